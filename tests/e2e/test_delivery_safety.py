"""Failures on the way to Jira neither lose a record nor create a second issue."""

from __future__ import annotations

import anyio
import pytest

from caspira.demo import Stack, _demo_records
from caspira_hookspecs import RetryableError, hookimpl

pytestmark = pytest.mark.anyio

# The Jira client waits out short rate limits itself; with no in-client wait every
# refusal reaches the worker, whose retries the tests count.
FAST_RETRIES = {
    "worker": {"backoff_base": 0.05, "backoff_max": 0.2},
    "jira": {"max_wait_seconds": 0},
}


async def actions(stack: Stack, record_id: str) -> list[str]:
    rows = await anyio.to_thread.run_sync(
        lambda: stack.engine.store.audit(flow="bugs", record_id=record_id)
    )
    return [row.action for row in reversed(rows)]


async def test_a_jira_outage_is_retried_and_the_issue_is_created_once(
    database_url, tmp_path
):
    async with Stack(database_url, workdir=tmp_path, settings=FAST_RETRIES) as stack:
        stack.jira_app.state.emulator.add_fault(
            503, count=2, path="/rest/api/3/issue", retry_after=0
        )
        (record_id,) = await stack.submit(_demo_records(1))
        rows = await stack.settle(keyed=1)
        issues = await stack.issues()
        history = await actions(stack, record_id)

    assert [issue["key"] for issue in issues] == [rows[record_id]["JiraKey"]]
    assert history.count("event_failed") == 2
    assert history.count("issue_created") == 1


class CrashAfterJiraAnswered:
    """Fails the first event after its issue was created, before anything commits,
    as a worker killed between Jira's answer and the local commit would."""

    name = "crash_after_jira_answered"

    def __init__(self):
        self.crashed = False

    @hookimpl(tryfirst=True)
    def on_issue_linked(self, created):
        if created and not self.crashed:
            self.crashed = True
            raise RetryableError("caspira", "commit", None, "simulated crash")


async def test_a_create_interrupted_after_jira_answered_adopts_that_issue(
    database_url, tmp_path
):
    crash = CrashAfterJiraAnswered()
    async with Stack(
        database_url, workdir=tmp_path, settings=FAST_RETRIES, plugins=(crash,)
    ) as stack:
        (record_id,) = await stack.submit(_demo_records(1))
        rows = await stack.settle(keyed=1)
        issues = await stack.issues()
        history = await actions(stack, record_id)

    assert crash.crashed
    assert len(issues) == 1
    assert rows[record_id]["JiraKey"] == issues[0]["key"]
    assert "issue_adopted" in history
    assert "issue_created" not in history
