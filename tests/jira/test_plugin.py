"""The Jira connector's hooks against the emulator: create, find, update, users."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from caspira_hookspecs import Flow, IssueDraft, IssueRef, MappingError, RemoteError
from caspira_jira import JiraPlugin, text_to_adf
from caspira_jira.emulator import EmulatedJira
from tests.conftest import CASES
from tests.jira.conftest import TOKEN, SpecCheckingTransport

pytestmark = pytest.mark.anyio

PRIYA = "712020:5b0c8d2e-aaaa-4bbb-8ccc-0d1e2f3a4b5c"
LENA = "712020:2b3c4d5e-3333-4eee-9fff-4a5b6c7d8e9f"


def draft(**overrides: Any) -> IssueDraft:
    values: dict[str, Any] = {
        "flow": "bugs",
        "record_id": "123",
        "project": "APP",
        "issue_type": "Bug",
        "summary": "Checkout button does nothing on iPad after coupon applied",
        "description": "Steps:\n1. Apply coupon SPRING10\n2. Tap Checkout",
        "fields": {
            "priority": "High",
            "components": ["Mobile App"],
            "Customer Impact": "High",
            "customfield_10042": "dana.whitfield@example.com",
            "duedate": "2026-11-30T09:14:03",
        },
        "labels": ("from caspio",),
        "idempotency_key": "bugs-123",
    }
    values.update(overrides)
    return IssueDraft(**values)


async def test_create_issue_answers_the_new_issue_with_its_browse_url(
    plugin: JiraPlugin, flow: Flow
) -> None:
    created = await plugin.create_issue(draft(), flow)

    assert created.issue == IssueRef(
        key="APP-1", id="10001", url="https://jira.test/browse/APP-1"
    )
    assert created.adopted is False


async def test_create_issue_sends_each_field_shaped_by_its_schema(
    plugin: JiraPlugin, flow: Flow, transport: SpecCheckingTransport
) -> None:
    await plugin.create_issue(draft(), flow)

    (sent,) = [e.body for e in transport.exchanges if e.path == "/rest/api/3/issue"]
    assert sent["fields"] == {
        "project": {"key": "APP"},
        "issuetype": {"id": "10004"},
        "summary": "Checkout button does nothing on iPad after coupon applied",
        "description": text_to_adf("Steps:\n1. Apply coupon SPRING10\n2. Tap Checkout"),
        "priority": {"name": "High"},
        "components": [{"name": "Mobile App"}],
        "customfield_10041": {"value": "High"},
        "customfield_10042": "dana.whitfield@example.com",
        "duedate": "2026-11-30",
        "labels": ["from-caspio", "caspira-bugs-123"],
    }


async def test_created_issue_carries_the_idempotency_label(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    await plugin.create_issue(draft(labels=()), flow)

    assert site.issue("APP-1").fields["labels"] == ["caspira-bugs-123"]


async def test_field_named_by_display_name_and_by_id_reach_the_same_field(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    await plugin.create_issue(draft(fields={"Customer Impact": "Low"}), flow)
    await plugin.create_issue(draft(fields={"customfield_10041": "Low"}), flow)

    assert site.issue("APP-1").fields["customfield_10041"] == {
        "id": "10100",
        "value": "Low",
    }
    assert site.issue("APP-2").fields["customfield_10041"] == {
        "id": "10100",
        "value": "Low",
    }


async def test_name_shared_with_a_field_off_the_screen_picks_the_screen_field(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    # The site has a system "Environment" too, but only the custom one is on Bug.
    await plugin.create_issue(draft(fields={"Environment": "iPadOS 18.2"}), flow)

    assert site.issue("APP-1").fields["customfield_10040"] == text_to_adf("iPadOS 18.2")


async def test_long_summary_is_cut_and_the_full_title_opens_the_description(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    title = "Checkout fails " * 30
    await plugin.create_issue(draft(summary=title, description="Details."), flow)

    issue = site.issue("APP-1")
    assert len(issue.fields["summary"]) <= 255
    assert issue.fields["summary"].endswith("…")
    assert issue.fields["description"] == text_to_adf(f"{title.strip()}\n\nDetails.")


async def test_create_issue_assigns_the_drafts_user(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    priya = await plugin.resolve_user("priya.nair@example.com", flow)

    await plugin.create_issue(draft(assignee=priya), flow)

    assert site.issue("APP-1").fields["assignee"] == PRIYA


async def test_create_issue_resolves_an_assignee_email_the_engine_left(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    await plugin.create_issue(draft(assignee_email="Lena.Kowalczyk@example.com"), flow)

    assert site.issue("APP-1").fields["assignee"] == LENA


async def test_user_field_takes_an_email_address(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    fields = {"QA Contact": "lena.kowalczyk@example.com"}

    await plugin.create_issue(draft(fields=fields), flow)

    assert site.issue("APP-1").fields["customfield_10047"] == LENA


async def test_user_field_with_an_unknown_email_names_record_and_field(
    plugin: JiraPlugin, flow: Flow
) -> None:
    fields = {"QA Contact": "nobody@example.com"}

    with pytest.raises(MappingError) as caught:
        await plugin.create_issue(draft(fields=fields), flow)

    assert (caught.value.record_id, caught.value.field) == ("123", "QA Contact")
    assert "nobody@example.com" in caught.value.problem


async def test_create_screen_is_read_once_per_project_and_issue_type(
    plugin: JiraPlugin, flow: Flow, transport: SpecCheckingTransport
) -> None:
    await plugin.create_issue(draft(record_id="1", idempotency_key="bugs-1"), flow)
    await plugin.create_issue(draft(record_id="2", idempotency_key="bugs-2"), flow)

    meta = "/rest/api/3/issue/createmeta/APP/issuetypes/10004"
    assert transport.count("GET", meta) == 1
    assert transport.count("POST", "/rest/api/3/issue") == 2


async def test_unknown_field_names_record_field_and_the_screens_fields(
    plugin: JiraPlugin, flow: Flow
) -> None:
    with pytest.raises(MappingError) as caught:
        await plugin.create_issue(draft(fields={"Root Cause": "cache"}), flow)

    error = caught.value
    assert (error.record_id, error.field) == ("123", "Root Cause")
    assert error.problem == "Jira has no field with the id or name 'Root Cause'"
    assert "Customer Impact" in error.fix


async def test_field_off_the_create_screen_says_to_add_it(
    plugin: JiraPlugin, flow: Flow
) -> None:
    with pytest.raises(MappingError) as caught:
        await plugin.create_issue(draft(fields={"Internal Notes": "x"}), flow)

    assert caught.value.field == "Internal Notes"
    assert caught.value.problem == (
        "Jira field Internal Notes (customfield_10049) is not on the create screen "
        "of APP Bug"
    )


async def test_unknown_issue_type_lists_the_projects_types(
    plugin: JiraPlugin, flow: Flow
) -> None:
    with pytest.raises(MappingError) as caught:
        await plugin.create_issue(draft(issue_type="Incident"), flow)

    assert caught.value.field == "issue_type"
    assert "'Bug', 'Task', 'Story'" in caught.value.problem


async def test_unknown_project_is_a_mapping_error_on_the_project(
    plugin: JiraPlugin, flow: Flow
) -> None:
    with pytest.raises(MappingError) as caught:
        await plugin.create_issue(draft(project="OPS"), flow)

    assert (caught.value.record_id, caught.value.field) == ("123", "project")
    assert "'OPS'" in caught.value.problem


async def test_project_among_the_field_rules_is_refused(
    plugin: JiraPlugin, flow: Flow
) -> None:
    with pytest.raises(MappingError, match="set by the flow"):
        await plugin.create_issue(draft(fields={"project": "OPS"}), flow)


async def test_find_issue_finds_the_issue_by_its_idempotency_label(
    plugin: JiraPlugin, flow: Flow
) -> None:
    await plugin.create_issue(draft(record_id="9", idempotency_key="bugs-9"), flow)
    created = await plugin.create_issue(draft(), flow)

    found = await plugin.find_issue(draft(), flow)

    assert found == created.issue


async def test_find_issue_answers_none_when_no_issue_has_the_label(
    plugin: JiraPlugin, flow: Flow
) -> None:
    await plugin.create_issue(draft(record_id="9", idempotency_key="bugs-9"), flow)

    assert await plugin.find_issue(draft(), flow) is None


async def test_find_issue_reads_every_page_and_answers_the_oldest(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira, transport: SpecCheckingTransport
) -> None:
    first = await plugin.create_issue(draft(), flow)
    await plugin.create_issue(draft(), flow)
    site.search_page_size = 1

    found = await plugin.find_issue(draft(), flow)

    assert found == first.issue
    assert transport.count("POST", "/rest/api/3/search/jql") == 2


async def test_update_issue_sends_the_changed_values(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    created = await plugin.create_issue(draft(), flow)
    changed = draft(fields={"priority": "Highest", "Customer Impact": "Medium"})

    answer = await plugin.update_issue(created.issue, changed, flow)

    issue = site.issue("APP-1")
    assert answer == created.issue
    assert issue.fields["priority"] == {"id": "1", "name": "Highest"}
    assert issue.fields["customfield_10041"] == {"id": "10101", "value": "Medium"}


async def test_update_issue_keeps_labels_people_added_and_the_idempotency_label(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    created = await plugin.create_issue(draft(labels=()), flow)
    site.edit_issue("APP-1", {"update": {"labels": [{"add": "triaged"}]}})

    await plugin.update_issue(created.issue, draft(labels=("regression",)), flow)

    assert site.issue("APP-1").fields["labels"] == [
        "caspira-bugs-123",
        "triaged",
        "regression",
    ]


async def test_update_issue_clears_a_field_the_record_emptied(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    created = await plugin.create_issue(draft(), flow)

    await plugin.update_issue(created.issue, draft(fields={"duedate": None}), flow)

    assert "duedate" not in site.issue("APP-1").fields


async def test_update_of_a_deleted_issue_is_an_error_not_worth_retrying(
    plugin: JiraPlugin, flow: Flow
) -> None:
    gone = IssueRef(key="APP-77", id="10077")

    with pytest.raises(RemoteError) as caught:
        await plugin.update_issue(gone, draft(), flow)

    assert type(caught.value) is RemoteError
    assert caught.value.status == 404
    assert caught.value.operation == "update issue APP-77"


async def test_field_removed_from_the_screen_is_named_by_jiras_400_then_rediscovered(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    await plugin.create_issue(draft(), flow)
    bug = site.project("APP").issue_types[0]
    bug.screen = tuple(f for f in bug.screen if f != "customfield_10041")

    with pytest.raises(RemoteError) as refused:
        await plugin.create_issue(draft(), flow)
    with pytest.raises(MappingError) as explained:
        await plugin.create_issue(draft(), flow)

    assert refused.value.status == 400
    assert refused.value.field == "customfield_10041"
    assert "customfield_10041 (Customer Impact)" in refused.value.detail
    assert explained.value.field == "Customer Impact"
    assert "is not on the create screen" in explained.value.problem


async def test_field_added_to_the_screen_after_it_was_read_is_found(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    await plugin.create_issue(draft(), flow)
    bug = site.project("APP").issue_types[0]
    bug.screen = (*bug.screen, "customfield_10049")

    await plugin.create_issue(draft(fields={"Internal Notes": "Seen in logs."}), flow)

    assert site.issue("APP-2").fields["customfield_10049"] == text_to_adf(
        "Seen in logs."
    )


async def test_resolve_user_finds_the_account_whatever_the_case_of_the_email(
    plugin: JiraPlugin, flow: Flow
) -> None:
    user = await plugin.resolve_user("Priya.Nair@Example.com", flow)

    assert user is not None
    assert (user.account_id, user.email, user.display_name) == (
        PRIYA,
        "priya.nair@example.com",
        "Priya Nair",
    )


async def test_resolve_user_asks_jira_once_per_address(
    plugin: JiraPlugin, flow: Flow, transport: SpecCheckingTransport
) -> None:
    first = await plugin.resolve_user("priya.nair@example.com", flow)
    second = await plugin.resolve_user("PRIYA.NAIR@example.com", flow)

    assert first == second
    assert transport.count("GET", "/rest/api/3/user/search") == 1


async def test_resolve_user_remembers_that_nobody_matched(
    plugin: JiraPlugin, flow: Flow, transport: SpecCheckingTransport
) -> None:
    assert await plugin.resolve_user("nobody@example.com", flow) is None
    assert await plugin.resolve_user("nobody@example.com", flow) is None

    assert transport.count("GET", "/rest/api/3/user/search") == 1


async def test_resolve_user_passes_over_a_deactivated_account(
    plugin: JiraPlugin, flow: Flow
) -> None:
    assert await plugin.resolve_user("sam.patel@example.com", flow) is None


async def test_resolve_user_does_not_take_an_account_whose_email_only_starts_alike(
    plugin: JiraPlugin, flow: Flow
) -> None:
    # Jira's search matches prefixes, so this query finds priya.nair@example.com.
    assert await plugin.resolve_user("priya.nair@example.co", flow) is None


async def test_the_token_reaches_no_log_record(
    plugin: JiraPlugin, flow: Flow, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        created = await plugin.create_issue(draft(), flow)
        await plugin.update_issue(created.issue, draft(), flow)

    assert [
        r.__dict__.get("issue") for r in caplog.records if r.msg == "issue.created"
    ] == ["APP-1"]
    assert not [r for r in caplog.records if TOKEN in repr(r.__dict__)]


async def test_the_shared_caspio_record_becomes_a_valid_issue(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    delivery = json.loads((CASES / "caspio-webhook-insert.json").read_text())
    (record,) = delivery["data"]
    case = draft(
        record_id=str(record["PK_ID"]),
        summary=record["Title"],
        description=record["Details"],
        fields={
            "priority": record["Severity"],
            "components": record["Product"],
            "Environment": record["Environment"],
            "Reporter Email": record["ReporterEmail"],
            "Found On": record["SubmittedAt"],
        },
        assignee_email=record["ReporterEmail"],
    )

    created = await plugin.create_issue(case, flow)

    fields = site.issue(created.issue.key).fields
    assert fields["components"] == [{"id": "10201", "name": "Mobile App"}]
    assert fields["customfield_10046"] == "2026-11-30"
    assert fields["assignee"] == "712020:8d3f1e6a-1111-4ccc-9ddd-2e3f4a5b6c7d"
    assert [p["content"][0]["text"] for p in fields["description"]["content"]] == [
        "Steps:",
        "Expected: payment page opens.",
    ]
