"""Fields a record left empty (``None`` in the draft): a create leaves them out, an
update empties them in Jira (``[]`` for list fields, ``null`` for the rest)."""

from __future__ import annotations

from typing import Any

import pytest

from caspira_hookspecs import Flow
from caspira_jira import JiraPlugin
from caspira_jira.emulator import EmulatedJira
from tests.jira.conftest import SpecCheckingTransport
from tests.jira.test_plugin import draft

pytestmark = pytest.mark.anyio

FILLED = {
    "priority": "High",
    "components": ["Mobile App"],
    "Customer Impact": "High",
    "Affected Platforms": ["iOS"],
    "QA Contact": "712020:2b3c4d5e-3333-4eee-9fff-4a5b6c7d8e9f",
    "Reporter Email": "dana.whitfield@example.com",
    "Environment": "iPadOS 18.2",
    "Story Points": 3,
    "duedate": "2026-11-30",
}
EMPTIED = {name: None for name in FILLED if name != "priority"}


def sent(transport: SpecCheckingTransport, method: str) -> dict[str, Any]:
    (body,) = [
        e.body
        for e in transport.exchanges
        if e.method == method and e.path.startswith("/rest/api/3/issue")
    ]
    return body


async def test_create_leaves_out_every_field_the_record_left_empty(
    plugin: JiraPlugin, flow: Flow, transport: SpecCheckingTransport
) -> None:
    await plugin.create_issue(draft(fields={"priority": "High", **EMPTIED}), flow)

    assert sorted(sent(transport, "POST")["fields"]) == [
        "description",
        "issuetype",
        "labels",
        "priority",
        "project",
        "summary",
    ]


async def test_update_empties_list_fields_with_an_empty_list_and_others_with_null(
    plugin: JiraPlugin, flow: Flow, transport: SpecCheckingTransport
) -> None:
    created = await plugin.create_issue(draft(fields=FILLED), flow)

    await plugin.update_issue(created.issue, draft(fields=EMPTIED), flow)

    fields = sent(transport, "PUT")["fields"]
    texts = ("summary", "description")
    assert {key: value for key, value in fields.items() if key not in texts} == {
        "components": [],
        "customfield_10041": None,
        "customfield_10043": [],
        "customfield_10047": None,
        "customfield_10042": None,
        "customfield_10040": None,
        "customfield_10045": None,
        "duedate": None,
    }


async def test_the_emptied_fields_are_empty_in_jira_after_the_update(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    created = await plugin.create_issue(draft(fields=FILLED), flow)
    filled = set(site.issue("APP-1").fields)

    await plugin.update_issue(created.issue, draft(fields=EMPTIED), flow)

    assert filled - set(site.issue("APP-1").fields) == {
        "components",
        "customfield_10040",
        "customfield_10041",
        "customfield_10042",
        "customfield_10043",
        "customfield_10045",
        "customfield_10047",
        "duedate",
    }
    answer = await plugin.client.get_issue("APP-1", ("components", "priority"))
    assert answer["fields"]["components"] == []
    assert answer["fields"]["priority"]["name"] == "High"


async def test_description_that_shows_nothing_is_cleared_on_update(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    created = await plugin.create_issue(draft(), flow)

    await plugin.update_issue(created.issue, draft(description="\u200b\x00"), flow)

    assert "description" not in site.issue("APP-1").fields


async def test_emptied_labels_field_adds_no_label_and_removes_none(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    created = await plugin.create_issue(draft(fields={"labels": ["triage"]}), flow)

    await plugin.update_issue(created.issue, draft(fields={"labels": None}), flow)

    assert site.issue("APP-1").fields["labels"] == [
        "from-caspio",
        "triage",
        "caspira-bugs-123",
    ]


async def test_emptied_labels_field_gives_a_new_issue_no_label_of_its_own(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira
) -> None:
    await plugin.create_issue(draft(fields={"labels": None}), flow)

    assert site.issue("APP-1").fields["labels"] == ["from-caspio", "caspira-bugs-123"]
