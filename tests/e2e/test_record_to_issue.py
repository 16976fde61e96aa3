"""A Caspio record becomes a Jira issue, end to end, over real loopback sockets.

Each test runs the Caspio, Jira and Slack emulators and the daemon (see
``caspira.demo.Stack``) and drives them only through the services' own APIs.
"""

from __future__ import annotations

import json

import anyio
import httpx
import pytest

from caspira.demo import Stack, _demo_records
from caspira.pipeline import idempotency_key
from tests.conftest import CASES

pytestmark = pytest.mark.anyio


def record(title: str, severity: str = "High", **extra) -> dict:
    base = _demo_records(1)[0]
    return {**base, "Title": title, "Severity": severity, **extra}


async def audit_actions(stack: Stack, record_id: str) -> list[str]:
    rows = await anyio.to_thread.run_sync(
        lambda: stack.engine.store.audit(flow="bugs", record_id=record_id)
    )
    return sorted(row.action for row in rows)


async def wait_for(predicate, timeout: float = 20.0):
    with anyio.fail_after(timeout):
        while not (result := await predicate()):
            await anyio.sleep(0.1)
    return result


async def test_every_record_becomes_one_issue_with_its_key_written_back(
    database_url, tmp_path
):
    records = [record("Login fails", "High"), record("Slow search", "Low")]
    async with Stack(database_url, workdir=tmp_path) as stack:
        ids = await stack.submit(records)
        rows = await stack.settle(keyed=2)
        issues = await stack.issues()

        assert len(issues) == 2
        by_key = {issue["key"]: issue for issue in issues}
        for record_id, sent in zip(ids, records, strict=True):
            key = rows[record_id]["JiraKey"]
            fields = by_key[key]["fields"]
            assert fields["summary"] == sent["Title"]
            label = f"caspira-{idempotency_key('demo', 'bugs', record_id)}"
            assert label in fields["labels"]
            assert "from-caspio" in fields["labels"]
        priorities = sorted(i["fields"]["priority"]["name"] for i in issues)
        assert priorities == ["High", "Low"]
        # The write-back of the key comes back as an update and is recognised, as
        # is Jira's news of the issue caspira created.
        history = await audit_actions(stack, ids[0])
        assert history.count("issue_created") == 1
        assert "unchanged" in history
        assert "issue_updated" not in history


async def test_a_changed_record_updates_its_issue_instead_of_creating_another(
    sqlite_url, tmp_path
):
    async with Stack(sqlite_url, workdir=tmp_path) as stack:
        (record_id,) = await stack.submit([record("Export is slow", "Low")])
        key = (await stack.settle(keyed=1))[record_id]["JiraKey"]

        answer = await stack.caspio.put(
            "/integrations/rest/v3/tables/BugReports/records",
            params={"q.where": f"PK_ID={record_id}"},
            json={"Severity": "Critical"},
        )
        assert answer.status_code == 200

        async def priority_is_highest():
            issue = await stack.jira.get(f"/rest/api/3/issue/{key}")
            return issue.json()["fields"]["priority"]["name"] == "Highest"

        await wait_for(priority_is_highest)
        await stack.settle(keyed=1)
        assert [i["key"] for i in await stack.issues()] == [key]
        assert "issue_updated" in await audit_actions(stack, record_id)


async def test_a_long_title_is_shortened_and_kept_whole_in_the_description(
    sqlite_url, tmp_path
):
    title = "Checkout fails " + "when the basket holds many items " * 12
    async with Stack(sqlite_url, workdir=tmp_path) as stack:
        (record_id,) = await stack.submit([record(title.strip())])
        key = (await stack.settle(keyed=1))[record_id]["JiraKey"]
        issue = (await stack.jira.get(f"/rest/api/3/issue/{key}")).json()

    summary = issue["fields"]["summary"]
    assert len(summary) <= 255
    assert summary.startswith("Checkout fails when the basket holds many items")
    description = json.dumps(issue["fields"]["description"])
    assert title.strip()[-60:] in description


async def test_an_unmappable_record_is_a_dead_letter_and_the_others_flow(
    sqlite_url, tmp_path
):
    flow = {
        "fields": {
            "summary": {"from": "Title"},
            "priority": {"from": "Severity", "values": {"Low": "Low"}},
        }
    }
    async with Stack(sqlite_url, workdir=tmp_path, flow_settings=flow) as stack:
        bad, good = await stack.submit(
            [record("Card declined", "Critical"), record("Typo", "Low")]
        )
        rows = await stack.settle(keyed=1)
        dead = await anyio.to_thread.run_sync(
            lambda: stack.engine.store.events(state="dead")
        )
        slack = stack.slack_app.state.emulator.messages

    assert rows[good]["JiraKey"] and not rows[bad]["JiraKey"]
    assert len(dead) == 1
    error = dead[0].last_error
    assert f"record {bad}, field 'Severity'" in error
    assert "add 'Critical' to flows.bugs.fields.priority.values" in error
    assert any(f"could not sync record {bad}" in m["text"] for m in slack)


async def test_a_repeated_delivery_is_stored_once_and_a_bad_secret_is_refused(
    sqlite_url, tmp_path
):
    delivery = json.loads((CASES / "caspio-webhook-insert.json").read_text())
    async with Stack(sqlite_url, workdir=tmp_path) as stack:
        delivery["secret"] = stack.secrets["CASPIO_WEBHOOK_SECRET"]
        url = f"{stack.endpoints.daemon}/hooks/caspio/bugs"
        async with httpx.AsyncClient() as client:
            first = await client.post(url, json=delivery)
            again = await client.post(url, json=delivery)
            forged = await client.post(url, json={**delivery, "secret": "guess"})
            unknown = await client.post(f"{url}-nope", json=delivery)
        events = await anyio.to_thread.run_sync(lambda: stack.engine.store.events())

    assert (first.status_code, first.json()) == (200, {"received": 1, "stored": 1})
    assert (again.status_code, again.json()) == (200, {"received": 1, "stored": 0})
    assert forged.status_code == 401
    assert unknown.status_code == 404
    assert [e.delivery_id for e in events] == [
        "caspio:3f1c9a2e-8b4d-4e61-9a0b-5d2c7e1f4a90:123"
    ]


async def test_an_oversized_delivery_gets_413_and_is_not_stored(sqlite_url, tmp_path):
    async with Stack(sqlite_url, workdir=tmp_path) as stack:
        url = f"{stack.endpoints.daemon}/hooks/caspio/bugs"
        async with httpx.AsyncClient() as client:
            answer = await client.post(url, content=b"x" * 1_100_000)
        counts = await anyio.to_thread.run_sync(stack.engine.store.counts)

    assert answer.status_code == 413
    assert sum(counts.values()) == 0


async def test_created_issues_are_announced_in_slack(sqlite_url, tmp_path):
    async with Stack(sqlite_url, workdir=tmp_path) as stack:
        (record_id,) = await stack.submit([record("Push arrives twice")])
        key = (await stack.settle(keyed=1))[record_id]["JiraKey"]
        messages = list(stack.slack_app.state.emulator.messages)

    assert len(messages) == 1
    assert f"{key} created: Push arrives twice" in messages[0]["text"]
