"""Jira's webhooks through the daemon: signatures, retries, transitions, Server mode."""

from __future__ import annotations

import hashlib
import hmac
import json

import anyio
import httpx
import pytest

from caspira.demo import Stack, _demo_records
from tests.conftest import CASES

pytestmark = pytest.mark.anyio

BODY = (CASES / "jira-webhook-issue-transitioned.body.json").read_bytes()
CASE_HEADERS = CASES / "jira-webhook-issue-transitioned.headers.json"


def signed_headers(secret: str) -> dict[str, str]:
    """The case file's headers, signed with ``secret`` the way Jira signs."""
    headers = json.loads(CASE_HEADERS.read_text())
    del headers["_secret_used_for_signature"]
    digest = hmac.new(secret.encode(), BODY, hashlib.sha256).hexdigest()
    return {**headers, "X-Hub-Signature": f"sha256={digest}"}


async def events(stack: Stack, **filters):
    return await anyio.to_thread.run_sync(lambda: stack.engine.store.events(**filters))


async def test_signed_deliveries_are_stored_once_and_bad_signatures_nowhere(
    sqlite_url, tmp_path
):
    async with Stack(sqlite_url, workdir=tmp_path) as stack:
        headers = signed_headers(stack.secrets["JIRA_WEBHOOK_SECRET"])
        url = f"{stack.endpoints.daemon}/hooks/jira"
        forged = signed_headers("not the secret")
        unsigned = {k: v for k, v in headers.items() if k != "X-Hub-Signature"}
        retry = {**headers, "X-Atlassian-Webhook-Retry": "1"}
        async with httpx.AsyncClient() as client:
            first = await client.post(url, content=BODY, headers=headers)
            again = await client.post(url, content=BODY, headers=retry)
            bad = await client.post(url, content=BODY, headers=forged)
            missing = await client.post(url, content=BODY, headers=unsigned)
        stored = await events(stack, flow=None)

    assert (first.status_code, first.json()["stored"]) == (200, 1)
    assert (again.status_code, again.json()["stored"]) == (200, 0)
    assert bad.status_code == 401 and missing.status_code == 401
    jira_events = [e for e in stored if e.source == "jira"]
    assert [e.delivery_id for e in jira_events] == ["jira:wh-4f2b9c31-0001"]
    assert jira_events[0].key == "issue:APP-41"


STATUS_SYNC = {
    "status_field": "Status",
    "status_map": {"To Do": "New", "In Progress": "Triaged", "Done": "Resolved"},
}


async def set_status(stack: Stack, record_id: str, status: str) -> None:
    answer = await stack.caspio.put(
        "/integrations/rest/v3/tables/BugReports/records",
        params={"q.where": f"PK_ID={record_id}"},
        json={"Status": status},
    )
    assert answer.status_code == 200, answer.text


async def jira_status(stack: Stack, key: str) -> str:
    issue = (await stack.jira.get(f"/rest/api/3/issue/{key}")).json()
    return issue["fields"]["status"]["name"]


async def wait_for(check, timeout: float = 20.0) -> None:
    with anyio.fail_after(timeout):
        while not await check():
            await anyio.sleep(0.1)


async def in_status(stack: Stack, key: str, status: str) -> None:
    async def reached():
        return await jira_status(stack, key) == status

    await wait_for(reached)


async def test_a_caspio_status_change_walks_the_jira_workflow_with_required_fields(
    sqlite_url, tmp_path
):
    flow = {**STATUS_SYNC, "transition_fields": {"Done": {"resolution": "Fixed"}}}
    async with Stack(sqlite_url, workdir=tmp_path, flow_settings=flow) as stack:
        (record_id,) = await stack.submit(_demo_records(1))
        key = (await stack.settle(keyed=1))[record_id]["JiraKey"]
        await set_status(stack, record_id, "Triaged")
        await in_status(stack, key, "In Progress")
        await set_status(stack, record_id, "Resolved")
        await in_status(stack, key, "Done")
        issue = (await stack.jira.get(f"/rest/api/3/issue/{key}")).json()
        dead = await events(stack, state="dead")

    assert issue["fields"]["resolution"]["name"] == "Fixed"
    assert dead == []


async def test_a_transition_missing_a_required_field_is_a_dead_letter_naming_it(
    sqlite_url, tmp_path
):
    flow = {**STATUS_SYNC, "transition_fields": {}}
    async with Stack(sqlite_url, workdir=tmp_path, flow_settings=flow) as stack:
        (record_id,) = await stack.submit(_demo_records(1))
        key = (await stack.settle(keyed=1))[record_id]["JiraKey"]
        await set_status(stack, record_id, "Triaged")
        await in_status(stack, key, "In Progress")
        await set_status(stack, record_id, "Resolved")

        async def dead_letter():
            return await events(stack, state="dead")

        await wait_for(dead_letter)
        dead = await events(stack, state="dead")
        status = await jira_status(stack, key)

    assert status == "In Progress"
    assert len(dead) == 1
    assert "resolution" in dead[0].last_error
    assert 'flows.bugs.transition_fields."Done"' in dead[0].last_error


async def test_the_whole_flow_runs_against_jira_server(sqlite_url, tmp_path):
    async with Stack(
        sqlite_url,
        workdir=tmp_path,
        flow_settings=STATUS_SYNC,
        jira_deployment="server",
    ) as stack:
        (record_id,) = await stack.submit(_demo_records(1))
        key = (await stack.settle(keyed=1))[record_id]["JiraKey"]
        issue = (await stack.jira.get(f"/rest/api/2/issue/{key}")).json()
        v3 = await stack.jira.get(f"/rest/api/3/issue/{key}")

        # A person moves the issue in Jira Server; the record follows.
        async with httpx.AsyncClient(
            base_url=stack.endpoints.jira,
            headers={"Authorization": "Bearer priya.nair-token"},
        ) as person:
            moved = await person.post(
                f"/rest/api/2/issue/{key}/transitions",
                json={"transition": {"id": "21"}},
            )
        with anyio.fail_after(20):
            while (await stack.records())[record_id]["Status"] != "Triaged":
                await anyio.sleep(0.1)

    assert moved.status_code == 204
    assert v3.status_code == 404
    assert isinstance(issue["fields"]["description"], str)
    assert "Steps:" in issue["fields"]["description"]
    assert issue["fields"]["priority"]["name"] == "High"
