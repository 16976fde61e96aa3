"""How a draft's plain values are shaped for each kind of Jira field, and cleaned."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from caspira_hookspecs import MappingError, User
from caspira_jira import (
    CLOUD,
    FieldSpec,
    clean_labels,
    field_kind,
    fit_summary,
    text_to_adf,
)
from caspira_jira import shape_value as _shape_value

CUSTOM = "com.atlassian.jira.plugin.system.customfieldtypes:"


def spec(
    field_id: str,
    name: str,
    schema: dict[str, Any],
    allowed: list[dict[str, Any]] | None = None,
) -> FieldSpec:
    return FieldSpec(field_id, name, schema, tuple(allowed) if allowed else None)


def shape(field: FieldSpec, value: Any, key: str | None = None) -> Any:
    return _shape_value(
        field, value, key=key or field.name, record_id="BR-7", dialect=CLOUD
    )


DESCRIPTION = spec(
    "description", "Description", {"type": "string", "system": "description"}
)
IMPACT = spec(
    "customfield_10041",
    "Customer Impact",
    {"type": "option", "custom": CUSTOM + "select", "customId": 10041},
    [
        {"id": "1", "value": "Low"},
        {"id": "2", "value": "Medium"},
        {"id": "3", "value": "High"},
    ],
)
PLATFORMS = spec(
    "customfield_10043",
    "Affected Platforms",
    {"type": "array", "items": "option", "custom": CUSTOM + "multicheckboxes"},
    [
        {"id": "1", "value": "iOS"},
        {"id": "2", "value": "Android"},
        {"id": "3", "value": "Web"},
    ],
)
PRIORITY = spec(
    "priority",
    "Priority",
    {"type": "priority", "system": "priority"},
    [{"id": "1", "name": "Highest"}, {"id": "2", "name": "High"}],
)
COMPONENTS = spec(
    "components",
    "Components",
    {"type": "array", "items": "component", "system": "components"},
    [{"id": "10", "name": "Web Portal"}, {"id": "11", "name": "Mobile App"}],
)
DUE = spec("duedate", "Due date", {"type": "date", "system": "duedate"})
REPORTED_AT = spec(
    "customfield_10050",
    "Reported At",
    {"type": "datetime", "custom": CUSTOM + "datetime"},
)
POINTS = spec(
    "customfield_10045", "Story Points", {"type": "number", "custom": CUSTOM + "float"}
)
EMAIL = spec(
    "customfield_10042",
    "Reporter Email",
    {"type": "string", "custom": CUSTOM + "textfield"},
)
LABELS = spec(
    "labels", "Labels", {"type": "array", "items": "string", "system": "labels"}
)
QA = spec(
    "customfield_10047", "QA Contact", {"type": "user", "custom": CUSTOM + "userpicker"}
)


def test_text_becomes_adf_paragraphs_split_by_blank_lines_with_hard_breaks() -> None:
    text = "Steps:\n1. Apply coupon\n\nExpected: payment page opens."

    assert shape(DESCRIPTION, text) == {
        "type": "doc",
        "version": 1,
        "content": [
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "Steps:"},
                    {"type": "hardBreak"},
                    {"type": "text", "text": "1. Apply coupon"},
                ],
            },
            {
                "type": "paragraph",
                "content": [{"type": "text", "text": "Expected: payment page opens."}],
            },
        ],
    }


def test_adf_treats_windows_line_breaks_and_runs_of_blank_lines_alike() -> None:
    assert text_to_adf("one\r\ntwo\r\n\r\n \n\r\nthree") == text_to_adf(
        "one\ntwo\n\nthree"
    )


def test_empty_text_becomes_a_document_without_paragraphs() -> None:
    assert text_to_adf("  \n\n") == {"type": "doc", "version": 1, "content": []}


def test_textarea_custom_field_takes_adf_too() -> None:
    environment = spec(
        "customfield_10040",
        "Environment",
        {"type": "string", "custom": CUSTOM + "textarea"},
    )

    assert shape(environment, "iPadOS 18.2") == text_to_adf("iPadOS 18.2")


def test_an_adf_document_is_sent_as_given() -> None:
    document = text_to_adf("already rich")

    assert shape(DESCRIPTION, document) == document


def test_select_value_becomes_a_value_object() -> None:
    assert shape(IMPACT, "High") == {"value": "High"}


def test_select_value_differing_only_in_case_takes_jiras_spelling() -> None:
    assert shape(IMPACT, "HIGH") == {"value": "High"}


def test_select_value_not_allowed_names_record_field_and_allowed_values() -> None:
    with pytest.raises(MappingError) as caught:
        shape(IMPACT, "Severe")

    error = caught.value
    assert (error.record_id, error.field) == ("BR-7", "Customer Impact")
    assert "'Severe'" in error.problem
    assert "allowed: 'Low', 'Medium', 'High'" in error.problem


def test_multi_select_values_become_a_list_of_value_objects() -> None:
    assert shape(PLATFORMS, ["iOS", "Web"]) == [{"value": "iOS"}, {"value": "Web"}]


def test_caspio_list_field_becomes_checkboxes_in_list_order() -> None:
    caspio_list = {"10": "Web", "2": "Android", "1": "iOS"}

    assert shape(PLATFORMS, caspio_list) == [
        {"value": "iOS"},
        {"value": "Android"},
        {"value": "Web"},
    ]


def test_priority_becomes_a_name_object() -> None:
    assert shape(PRIORITY, "High") == {"name": "High"}


def test_components_become_a_list_of_name_objects() -> None:
    assert shape(COMPONENTS, ["Mobile App", "web portal"]) == [
        {"name": "Mobile App"},
        {"name": "Web Portal"},
    ]


def test_unknown_component_lists_the_projects_components() -> None:
    with pytest.raises(MappingError, match="allowed: 'Web Portal', 'Mobile App'"):
        shape(COMPONENTS, ["Desktop"])


def test_user_becomes_an_account_id_object() -> None:
    priya = User(account_id="712020:5b0c8d2e", email="priya.nair@example.com")

    assert shape(QA, priya) == {"accountId": "712020:5b0c8d2e"}


def test_user_without_account_id_is_refused() -> None:
    with pytest.raises(MappingError, match="does not name a Jira user"):
        shape(QA, User(name="pnair"))


def test_date_from_a_caspio_datetime_keeps_the_day() -> None:
    assert shape(DUE, "2026-11-30T09:14:03") == "2026-11-30"


def test_date_from_a_python_date() -> None:
    assert shape(DUE, date(2026, 12, 24)) == "2026-12-24"


def test_text_that_is_not_a_date_names_record_and_field() -> None:
    with pytest.raises(MappingError) as caught:
        shape(DUE, "next Tuesday", key="duedate")

    assert (caught.value.record_id, caught.value.field) == ("BR-7", "duedate")
    assert "YYYY-MM-DD" in caught.value.fix


def test_datetime_with_an_offset_takes_jiras_format() -> None:
    assert (
        shape(REPORTED_AT, "2026-01-16T19:52:55+01:00")
        == "2026-01-16T19:52:55.000+0100"
    )


def test_datetime_without_a_zone_is_refused_because_the_moment_is_unknown() -> None:
    with pytest.raises(MappingError, match="has no time zone"):
        shape(REPORTED_AT, "2026-01-16T19:52:55")


def test_number_field_takes_numeric_text_as_a_number() -> None:
    assert (shape(POINTS, "5"), shape(POINTS, "2.5"), shape(POINTS, 8)) == (5, 2.5, 8)


def test_yes_no_is_not_taken_as_a_number() -> None:
    with pytest.raises(MappingError, match="yes/no"):
        shape(POINTS, True)


def test_text_that_is_not_a_number_is_refused() -> None:
    with pytest.raises(MappingError, match="'a few' is not a number"):
        shape(POINTS, "a few")


def test_text_field_takes_a_plain_string() -> None:
    assert shape(EMAIL, "dana.whitfield@example.com") == "dana.whitfield@example.com"


def test_text_field_longer_than_255_is_cut_and_says_how_much_is_left_out() -> None:
    sent = shape(EMAIL, "x" * 300)

    assert sent == "x" * 187 + (
        " … [truncated by caspira: 113 characters more in Caspio record BR-7]"
    )
    assert len(sent) == 255


def test_labels_with_spaces_get_hyphens() -> None:
    assert shape(LABELS, ["from caspio", "Web  Portal", "iOS"]) == [
        "from-caspio",
        "Web-Portal",
        "iOS",
    ]


def test_cleaned_labels_drop_empty_ones_and_repeats() -> None:
    assert clean_labels(["a b", "", "a-b", "  ", "c"]) == ["a-b", "c"]


def test_field_of_a_type_caspira_cannot_fill_is_refused_by_name() -> None:
    cascading = spec(
        "customfield_10060", "Region", {"type": "option-with-child", "custom": "x"}
    )

    with pytest.raises(MappingError) as caught:
        shape(cascading, "EMEA")

    assert caught.value.field == "Region"
    assert "cannot fill" in caught.value.problem


@pytest.mark.parametrize(
    ("schema", "kind"),
    [
        ({"type": "string", "system": "summary"}, "text"),
        ({"type": "string", "system": "environment"}, "rich_text"),
        ({"type": "option", "custom": CUSTOM + "radiobuttons"}, "option"),
        (
            {"type": "array", "items": "option", "custom": CUSTOM + "multiselect"},
            "options",
        ),
        ({"type": "array", "items": "version", "system": "fixVersions"}, "named_list"),
        ({"type": "array", "items": "string", "custom": CUSTOM + "labels"}, "labels"),
        (
            {"type": "array", "items": "user", "custom": CUSTOM + "multiuserpicker"},
            "users",
        ),
        ({"type": "any", "custom": "com.example:team"}, "unsupported"),
    ],
)
def test_field_kind_follows_the_schema(schema: dict[str, Any], kind: str) -> None:
    assert field_kind(schema) == kind


def test_short_one_line_title_is_the_summary_as_it_is() -> None:
    assert fit_summary("Checkout button does nothing", record_id="BR-7") == (
        "Checkout button does nothing",
        None,
    )


def test_title_with_line_breaks_becomes_one_line_and_is_kept_whole() -> None:
    title = "Checkout fails\nafter coupon"

    assert fit_summary(title, record_id="BR-7") == (
        "Checkout fails after coupon",
        title,
    )


def test_long_title_is_cut_at_a_word_with_an_ellipsis() -> None:
    title = "word " * 60 + "tail"

    summary, kept = fit_summary(title, record_id="BR-7")

    assert len(summary) <= 255
    assert summary.endswith("word…")
    assert kept == title.strip()


def test_long_title_without_spaces_is_cut_at_the_limit() -> None:
    summary, _ = fit_summary("x" * 400, record_id="BR-7")

    assert summary == "x" * 254 + "…"
