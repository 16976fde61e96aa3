"""The engine's own field mapping, from a record to an issue draft."""

from __future__ import annotations

import json

import pytest

from caspira.mapping import build_draft, record_value
from caspira_hookspecs import Flow, MappingError, RecordChange, Route
from tests.conftest import CASES

ROUTE = Route(project="APP", issue_type="Bug")


def flow(**fields) -> Flow:
    rules = {"summary": {"from": "Title"}, **fields}
    return Flow.model_validate(
        {"name": "bugs", "table": "BugReports", "project": "APP", "fields": rules}
    )


def change(values: dict) -> RecordChange:
    return RecordChange(
        flow="bugs",
        table="BugReports",
        record_id="123",
        operation="insert",
        values=values,
    )


def case_record() -> dict:
    delivery = json.loads((CASES / "caspio-webhook-insert.json").read_text())
    return delivery["data"][0]


def test_a_record_maps_through_values_templates_and_list_fields():
    rules = flow(
        priority={"from": "Severity", "values": {"High": "Highest"}},
        components={"from": "Product"},
        description={"template": "{Details}\n\nEnvironment: {Environment}"},
        assignee={"from": "ReporterEmail"},
        labels={"from": "Product"},
    )
    draft = build_draft(change(case_record()), rules, ROUTE)

    assert draft.summary == "Checkout button does nothing on iPad after coupon applied"
    assert draft.fields == {"priority": "Highest", "components": ["Mobile App"]}
    assert draft.description.startswith("Steps:\n1. Add any item to the cart")
    assert draft.description.endswith(
        "Environment: iPadOS 18.2, app 4.1.0 (build 4102)"
    )
    assert draft.assignee_email == "dana.whitfield@example.com"
    assert draft.labels == ("Mobile App",)
    assert (draft.project, draft.issue_type, draft.record_id) == ("APP", "Bug", "123")


def test_caspio_list_fields_become_lists_in_their_key_order():
    assert record_value({"3": "Access", "1": "Hardware"}) == ["Hardware", "Access"]


def test_an_unmapped_value_names_the_record_the_field_and_the_fix():
    rules = flow(priority={"from": "Severity", "values": {"Low": "Low"}})
    with pytest.raises(MappingError) as caught:
        build_draft(change(case_record()), rules, ROUTE)

    error = caught.value
    assert (error.record_id, error.field) == ("123", "Severity")
    assert "'High' has no mapping" in str(error)
    assert "add 'High' to flows.bugs.fields.priority.values" in str(error)


def test_an_unmapped_value_falls_back_to_the_default():
    rules = flow(priority={"from": "Severity", "values": {}, "default": "Medium"})
    assert (
        build_draft(change(case_record()), rules, ROUTE).fields["priority"] == "Medium"
    )


def test_a_missing_source_field_says_which_key_to_correct():
    rules = flow(priority={"from": "Sevirity"})
    with pytest.raises(MappingError) as caught:
        build_draft(change(case_record()), rules, ROUTE)
    assert "correct flows.bugs.fields.priority.from" in str(caught.value)


def test_an_empty_required_field_fails_and_an_optional_one_is_passed_as_none():
    record = {**case_record(), "Environment": ""}
    optional = build_draft(
        change(record), flow(Environment={"from": "Environment"}), ROUTE
    )
    # None reaches the connector, which leaves it out of a create and clears it on
    # an update.
    assert optional.fields["Environment"] is None

    required = flow(Environment={"from": "Environment", "required": True})
    with pytest.raises(MappingError, match="is required"):
        build_draft(change(record), required, ROUTE)


@pytest.mark.parametrize("title", ["  ", "\u200b", "\u200b \u2060\t", "\x07"])
def test_a_title_that_shows_nothing_cannot_become_a_summary(title):
    with pytest.raises(MappingError, match="summary would be empty"):
        build_draft(change({**case_record(), "Title": title}), flow(), ROUTE)
