"""The way back: Jira changes reach the Caspio record, without echoes or stale data.

Jira's deliveries are given to the engine as the Jira webhook route would store
them, so each test controls the time and the account of every change.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from caspira.demo import Stack, _demo_records
from caspira_hookspecs import (
    FieldChange,
    InboundEvent,
    IssueChange,
    IssueRef,
    RecordChange,
    User,
)

pytestmark = pytest.mark.anyio

MINUTE = timedelta(minutes=1)
HUMAN = User(account_id="712020:human-priya", display_name="Priya Nair")

TWO_WAY = {
    "status_field": "Status",
    "status_map": {"To Do": "New", "In Progress": "Triaged", "Done": "Resolved"},
    "from_jira": {"priority": {"to": "Severity"}},
}


async def linked_record(stack: Stack) -> tuple[str, str]:
    (record_id,) = await stack.submit(_demo_records(1))
    rows = await stack.settle(keyed=1)
    return record_id, rows[record_id]["JiraKey"]


def jira_change(key: str, *changes: FieldChange, at=None, actor=HUMAN) -> InboundEvent:
    change = IssueChange(
        issue=IssueRef(key=key, id="0"),
        event="updated",
        changes=changes,
        actor=actor,
        occurred_at=at or datetime.now(UTC),
    )
    return InboundEvent(
        source="jira",
        kind="issue_changed",
        flow=None,
        key=f"issue:{key}",
        delivery_id=f"jira:{uuid.uuid4()}",
        payload=change.model_dump(mode="json"),
    )


def caspio_change(record_id: str, values: dict, at) -> InboundEvent:
    change = RecordChange(
        flow="bugs",
        table="BugReports",
        record_id=record_id,
        operation="update",
        values=values,
        occurred_at=at,
    )
    return InboundEvent(
        source="caspio",
        kind="record_changed",
        flow="bugs",
        key=f"bugs:{record_id}",
        delivery_id=f"caspio:{uuid.uuid4()}:{record_id}",
        payload=change.model_dump(mode="json"),
    )


def status(to: str, frm: str = "To Do") -> FieldChange:
    return FieldChange(field_id="status", field="status", from_text=frm, to_text=to)


def priority(to: str) -> FieldChange:
    return FieldChange(field_id="priority", field="priority", to_text=to)


async def deliver(stack: Stack, *events: InboundEvent) -> dict[str, dict]:
    for event in events:
        await stack.engine.intake([event])
        await settle_inbox(stack)
    return await stack.records()


async def settle_inbox(stack: Stack) -> None:
    with anyio.fail_after(20):
        while True:
            counts = await anyio.to_thread.run_sync(stack.engine.store.counts)
            if counts["pending"] + counts["in_progress"] == 0:
                return
            await anyio.sleep(0.05)


async def jira_priority_is(stack: Stack, key: str, name: str) -> None:
    with anyio.fail_after(20):
        while True:
            issue = (await stack.jira.get(f"/rest/api/3/issue/{key}")).json()
            if issue["fields"]["priority"]["name"] == name:
                return
            await anyio.sleep(0.1)


async def actions(stack: Stack, record_id: str) -> list[str]:
    rows = await anyio.to_thread.run_sync(
        lambda: stack.engine.store.audit(flow="bugs", record_id=record_id, limit=500)
    )
    return [row.action for row in reversed(rows)]


async def test_a_jira_status_change_is_written_to_the_record(sqlite_url, tmp_path):
    async with Stack(sqlite_url, workdir=tmp_path, flow_settings=TWO_WAY) as stack:
        record_id, key = await linked_record(stack)
        rows = await deliver(stack, jira_change(key, status("In Progress")))
        history = await actions(stack, record_id)
        slack = [m["text"] for m in stack.slack_app.state.emulator.messages]

    assert rows[record_id]["Status"] == "Triaged"
    assert "record_written" in history
    assert any(f"{key} moved to In Progress" in text for text in slack)


async def test_an_unmapped_jira_status_is_skipped_and_said(sqlite_url, tmp_path):
    async with Stack(sqlite_url, workdir=tmp_path, flow_settings=TWO_WAY) as stack:
        record_id, key = await linked_record(stack)
        rows = await deliver(stack, jira_change(key, status("Blocked")))
        audit = await anyio.to_thread.run_sync(
            lambda: stack.engine.store.audit(flow="bugs", record_id=record_id)
        )

    assert rows[record_id]["Status"] == "New"
    assert "'Blocked' is not in flows.bugs.status_map" in audit[0].detail["reason"]


async def test_a_change_made_by_caspiras_own_account_is_an_echo(sqlite_url, tmp_path):
    async with Stack(sqlite_url, workdir=tmp_path, flow_settings=TWO_WAY) as stack:
        record_id, key = await linked_record(stack)
        bot = (await stack.jira.get("/rest/api/3/myself")).json()
        own = User(account_id=bot["accountId"], display_name=bot["displayName"])
        rows = await deliver(stack, jira_change(key, status("Done"), actor=own))
        history = await actions(stack, record_id)

    assert rows[record_id]["Status"] == "New"
    assert history[-1] == "echo"


async def test_an_older_delivery_never_overwrites_a_newer_one(sqlite_url, tmp_path):
    async with Stack(sqlite_url, workdir=tmp_path, flow_settings=TWO_WAY) as stack:
        record_id, key = await linked_record(stack)
        now = datetime.now(UTC)
        rows = await deliver(
            stack,
            jira_change(key, status("Done", "In Progress"), at=now + MINUTE),
            jira_change(key, status("In Progress"), at=now),
        )
        history = await actions(stack, record_id)

    assert rows[record_id]["Status"] == "Resolved"
    assert history[-1] == "stale"


@pytest.mark.parametrize(
    ("policy", "jira_priority"),
    [("latest", "Highest"), ("jira_wins", "Highest"), ("caspio_wins", "Low")],
)
async def test_crossing_changes_follow_the_conflict_policy(
    sqlite_url, tmp_path, policy, jira_priority
):
    flow = {**TWO_WAY, "conflict_policy": policy}
    async with Stack(sqlite_url, workdir=tmp_path, flow_settings=flow) as stack:
        record_id, key = await linked_record(stack)
        record = (await stack.records())[record_id]
        # Jira changed the priority now; Caspio changed the severity a moment
        # earlier, but its delivery is applied after Jira's.
        now = datetime.now(UTC) + MINUTE
        await deliver(stack, jira_change(key, priority("Highest"), at=now))
        # Caspio's own update after the write-back carries Highest to Jira; let it
        # land before the late change arrives.
        await jira_priority_is(stack, key, "Highest")
        late = caspio_change(record_id, {**record, "Severity": "Low"}, now - MINUTE / 2)
        rows = await deliver(stack, late)
        issue = (await stack.jira.get(f"/rest/api/3/issue/{key}")).json()
        audit = await anyio.to_thread.run_sync(
            lambda: stack.engine.store.audit(flow="bugs", record_id=record_id)
        )

    assert rows[record_id]["Severity"] == "Critical"
    assert issue["fields"]["priority"]["name"] == jira_priority
    conflict = next(row for row in audit if row.action == "conflict")
    assert conflict.detail["policy"] == policy
    assert conflict.detail["incoming_from"] == "caspio"
    assert conflict.detail["incoming"] == "Low"
    assert conflict.detail["kept"] == "Critical"
    assert conflict.detail["verdict"] == (
        "conflict_won" if policy == "caspio_wins" else "conflict_lost"
    )


async def test_a_late_older_update_never_overwrites_a_newer_one(sqlite_url, tmp_path):
    async with Stack(sqlite_url, workdir=tmp_path) as stack:
        record_id, key = await linked_record(stack)
        record = (await stack.records())[record_id]
        now = datetime.now(UTC) + MINUTE
        newer = caspio_change(
            record_id, {**record, "Title": "NEW", "Severity": "Low"}, now
        )
        older = caspio_change(
            record_id, {**record, "Title": "OLD", "Severity": "Critical"}, now - MINUTE
        )
        await deliver(stack, newer, older)
        issue = (await stack.jira.get(f"/rest/api/3/issue/{key}")).json()
        history = await actions(stack, record_id)

    assert issue["fields"]["summary"] == "NEW"
    assert issue["fields"]["priority"]["name"] == "Low"
    assert history[-1] == "stale"


async def test_emptying_fields_in_caspio_clears_them_in_jira(sqlite_url, tmp_path):
    async with Stack(sqlite_url, workdir=tmp_path) as stack:
        record_id, key = await linked_record(stack)
        answer = await stack.caspio.put(
            "/integrations/rest/v3/tables/BugReports/records",
            params={"q.where": f"PK_ID={record_id}"},
            json={"Product": [], "Environment": ""},
        )
        assert answer.status_code == 200, answer.text

        async def cleared():
            issue = (await stack.jira.get(f"/rest/api/3/issue/{key}")).json()
            return issue if not issue["fields"]["components"] else None

        with anyio.fail_after(20):
            while not (issue := await cleared()):
                await anyio.sleep(0.1)
        fields = (await stack.jira.get("/rest/api/3/field")).json()

    environment = next(
        f["id"] for f in fields if f["name"] == "Environment" and f.get("custom")
    )
    assert issue["fields"]["components"] == []
    assert issue["fields"].get(environment) is None


async def test_a_jira_assignee_change_is_written_as_the_persons_name(
    sqlite_url, tmp_path
):
    assignee = FieldChange(
        field_id="assignee",
        field="assignee",
        from_id=None,
        to_id="712020:dana",
        to_text="Dana Whitfield",
    )
    async with Stack(sqlite_url, workdir=tmp_path) as stack:
        record_id, key = await linked_record(stack)
        rows = await deliver(stack, jira_change(key, assignee))

    assert rows[record_id]["AssignedTo"] == "Dana Whitfield"
