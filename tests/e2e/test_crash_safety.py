"""Nothing lost, nothing twice: workers SIGKILLed again and again while 1,000
records and their updates flow from Caspio to Jira, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import anyio
import anyio.to_thread
import pytest

from caspira.demo import FLOW, _demo_records
from caspira.store import AuditRow
from tests.e2e.installation import Installation, issues_by_record

pytestmark = pytest.mark.anyio

RECORDS = 1000
UPDATES = 100
KILLS = 50
#: Kills while the records go in; the rest land while their updates flow.
KILLS_BEFORE_UPDATES = 40
#: Workers alive at once, each killed and replaced on its own schedule.
KILL_SLOTS = 2
WORKER_SETTINGS = {
    "poll_interval": 0.1,
    "concurrency": 8,
    # A worker claims its next batch only when the whole last one is done, so a
    # batch of several times its concurrency keeps its slots busy.
    "batch_size": 32,
    # A short lease, so a killed worker's events come back within the run.
    "lease_seconds": 2,
    "backoff_base": 0.1,
    "backoff_max": 0.5,
    # Each lease that runs out counts as an attempt, and the store buries an event
    # after max_attempts of them as one that kills its workers. Here the test
    # does the killing, so no number of kills may bury an event.
    "max_attempts": 4 * KILLS,
}
#: What each chosen record's Severity becomes: always another value.
NEXT_SEVERITY = {
    "Critical": "Low",
    "High": "Critical",
    "Medium": "High",
    "Low": "Medium",
}
MADE = ("issue_created", "issue_adopted")


@dataclass
class Kill:
    worker: str
    held: int


@dataclass
class KillLoop:
    """Starts ``caspira worker``, lets it run 0.2-1.5 s, SIGKILLs it, again and
    again until ``stop``; a kill counts only when the worker was running."""

    site: Installation
    rng: random.Random
    kills: list[Kill] = field(default_factory=list)
    stop: anyio.Event = field(default_factory=anyio.Event)

    async def run(self) -> None:
        async with anyio.create_task_group() as group:
            for _ in range(KILL_SLOTS):
                group.start_soon(self._slot)

    async def _slot(self) -> None:
        while not self.stop.is_set():
            worker = self.site.start_worker()
            await worker.started()
            await anyio.sleep(self.rng.uniform(0.2, 1.5))
            assert worker.running, (
                f"worker {worker.name} ended by itself (exit code "
                f"{worker.popen.poll()}):\n{worker.tail()}"
            )
            worker.kill()
            held = await self.site.held_by(worker.name)
            self.kills.append(Kill(worker.name, len(held)))

    async def reach(self, count: int) -> None:
        while len(self.kills) < count:
            await anyio.sleep(0.1)


async def audit(site: Installation) -> list[AuditRow]:
    return await anyio.to_thread.run_sync(
        lambda: site.store.audit(flow=FLOW, limit=1_000_000)
    )


async def linked(site: Installation, count: int) -> list[str]:
    """``count`` records whose issue is made and its key written back.

    Read from the audit trail: a create is audited only once its event is done,
    and the key is written back before that.
    """
    while True:
        made = {row.record_id for row in await audit(site) if row.action in MADE}
        if len(made) >= count:
            return sorted(made, key=int)[:count]
        await anyio.sleep(0.5)


async def next_second() -> None:
    """Caspio dates its events to the second: a change made after this is dated
    later than every change already made, so caspira can tell which is newer."""
    await anyio.sleep(1.05 - datetime.now(UTC).microsecond / 1_000_000)


async def test_killed_workers_lose_no_record_and_make_no_issue_twice(
    database_url, tmp_path
):
    started = time.monotonic()
    seed = random.randrange(2**32)
    changed: dict[str, str] = {}

    with anyio.fail_after(420):
        async with Installation(tmp_path, database_url, worker=WORKER_SETTINGS) as site:
            loop = KillLoop(site, random.Random(seed))
            async with anyio.create_task_group() as group:
                group.start_soon(loop.run)
                records = _demo_records(RECORDS)
                ids = await site.insert(records, parallel=4)
                await loop.reach(KILLS_BEFORE_UPDATES)

                chosen = await linked(site, UPDATES)
                await next_second()
                kills_then = len(loop.kills)
                for record_id in chosen:
                    was = records[ids.index(record_id)]["Severity"]
                    changed[record_id] = NEXT_SEVERITY[was]
                    await site.update(record_id, {"Severity": changed[record_id]})
                await loop.reach(max(KILLS, kills_then + KILLS - KILLS_BEFORE_UPDATES))
                loop.stop.set()

            last = site.start_worker()
            await last.started()
            await site.settle(last, timeout=240)
            rows = await site.records()
            issues = await site.issues()
            events = await site.events()
            links = await anyio.to_thread.run_sync(
                lambda: {r: site.store.get_link(FLOW, r) for r in ids}
            )
            trail = await audit(site)

    found = issues_by_record(issues, ids)
    made = Counter(row.record_id for row in trail if row.action in MADE)
    adopted = sum(1 for row in trail if row.action == "issue_adopted")
    interrupted = sum(1 for kill in loop.kills if kill.held)
    print(
        f"crash safety ({database_url.split(':', 1)[0]}): {len(loop.kills)} kills, "
        f"{interrupted} of them holding events; {len(ids)} records, {len(issues)} "
        f"issues, {adopted} adopted after a kill, {len(changed)} updates; "
        f"{time.monotonic() - started:.0f} s; seed {seed}"
    )

    assert len(loop.kills) >= KILLS
    assert interrupted >= KILLS // 2, "most kills should land on a worker at work"
    assert adopted >= 1, "no kill landed between Jira's answer and the commit"

    issue_counts = {r: [i["key"] for i in found[r]] for r in ids if len(found[r]) != 1}
    assert not issue_counts, f"records without exactly one issue: {issue_counts}"
    assert len(issues) == RECORDS, "Jira holds issues that no record accounts for"
    keys = {r: found[r][0]["key"] for r in ids}
    wrong_keys = {
        r: (rows[r]["JiraKey"], keys[r]) for r in ids if rows[r]["JiraKey"] != keys[r]
    }
    assert not wrong_keys, f"record: (key written back, its issue): {wrong_keys}"
    unlinked = {
        r: link and (link.state, link.issue_key)
        for r, link in links.items()
        if link is None or (link.state, link.issue_key) != ("linked", keys[r])
    }
    assert not unlinked, f"record: its link in the store, when wrong: {unlinked}"
    not_once = {r: made[r] for r in ids if made[r] != 1}
    assert not not_once, f"record: times its issue was created or adopted: {not_once}"

    assert {r: rows[r]["Severity"] for r in changed} == changed
    priority_of = site.config.flows[FLOW].fields["priority"].values or {}
    priorities = {r: found[r][0]["fields"]["priority"]["name"] for r in ids}
    stale = {
        r: (rows[r]["Severity"], priorities[r])
        for r in ids
        if priorities[r] != priority_of[rows[r]["Severity"]]
    }
    assert not stale, f"record: (Severity, its issue's priority) disagree: {stale}"

    unfinished = [
        (e.id, e.key, e.state, e.last_error) for e in events if e.state != "done"
    ]
    assert not unfinished, f"events not done (id, key, state, error): {unfinished}"
    done = {
        e.id: [a.outcome for a in e.attempt_log or ()].count("done") for e in events
    }
    assert {i: n for i, n in done.items() if n != 1} == {}, "events done twice"
