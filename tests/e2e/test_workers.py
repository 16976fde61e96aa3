"""Several ``caspira worker`` processes share one PostgreSQL store: each event is
done once and in order per record, a dead worker's events come back, and SIGTERM
stops a busy process cleanly.
"""

from __future__ import annotations

import signal
from collections import Counter, defaultdict
from datetime import timedelta
from itertools import pairwise

import anyio
import psycopg
import pytest

from caspira.demo import _demo_records
from caspira.store import AttemptRow, EventRow
from tests.e2e.installation import Installation, Worker, issues_by_record

pytestmark = pytest.mark.anyio

WORKER_SETTINGS = {"poll_interval": 0.1, "concurrency": 8, "lease_seconds": 3}
RECORDS = 300
#: Attempt times are read before each store transaction begins, so a claim that
#: committed just after a completion may carry a time a little before it.
CLOCK_SLACK = timedelta(milliseconds=50)


async def backlog(site: Installation, count: int) -> list[str]:
    """Records inserted through Caspio, their deliveries stored, none worked on."""
    ids = await site.insert(_demo_records(count), parallel=4)
    await delivered(site)
    return ids


async def delivered(site: Installation) -> None:
    with anyio.fail_after(60):
        while (await site.undelivered())[1]:
            await anyio.sleep(0.1)


async def holding(site: Installation, worker: Worker) -> dict:
    """Wait until ``worker`` holds events; answer them with their lease ends."""
    with anyio.fail_after(30):
        while not (held := await site.held_by(worker.name)):
            assert worker.running, worker.tail()
            await anyio.sleep(0.02)
    return held


async def issue_problems(site: Installation, ids: list[str]) -> list[str]:
    """What is wrong with the records' issues: none, several, or a wrong key."""
    rows = await site.records()
    found = issues_by_record(await site.issues(), ids)
    problems = []
    for record_id in ids:
        keys = [issue["key"] for issue in found[record_id]]
        if len(keys) != 1:
            problems.append(f"record {record_id} has issues {keys}")
        elif rows[record_id]["JiraKey"] != keys[0]:
            problems.append(
                f"record {record_id} has {rows[record_id]['JiraKey']!r} written "
                f"back, not {keys[0]}"
            )
    return problems


def inject_deadlocks(database_url: str, faults: dict[str, int]) -> None:
    """Make the first inserts into each named store table fail as PostgreSQL's
    deadlock victims do (SQLSTATE 40P01); a sequence counts them, since the
    failing transaction rolls back everything else."""
    conninfo = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(conninfo, autocommit=True) as db:
        db.execute(
            """
            CREATE FUNCTION caspira_test_deadlock() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                IF nextval(TG_TABLE_NAME || '_deadlocks') <= TG_ARGV[0]::int THEN
                    RAISE EXCEPTION 'deadlock detected (injected by the test)'
                        USING ERRCODE = '40P01';
                END IF;
                RETURN NEW;
            END $$
            """
        )
        for table, count in faults.items():
            db.execute(f"CREATE SEQUENCE {table}_deadlocks")
            db.execute(
                f"CREATE TRIGGER deadlocks BEFORE INSERT ON {table} FOR EACH ROW "
                f"EXECUTE FUNCTION caspira_test_deadlock('{count}')"
            )


def done(event: EventRow) -> list[AttemptRow]:
    return [a for a in event.attempt_log or () if a.outcome == "done"]


async def test_three_workers_share_the_work_and_apply_each_event_once_in_order(
    postgres_url, tmp_path
):
    async with Installation(tmp_path, postgres_url, worker=WORKER_SETTINGS) as site:
        ids = await backlog(site, RECORDS)
        # A change of every third record waits in the inbox behind its insert.
        for record_id in ids[::3]:
            await site.update(record_id, {"Environment": "Staging, re-tested"})
        await delivered(site)
        workers = [site.start_worker() for _ in range(3)]
        names = {await worker.started() for worker in workers}
        await site.settle(*workers, timeout=180)
        problems = await issue_problems(site, ids)
        events = await site.events()

    assert not problems, problems
    not_once = {e.id: len(done(e)) for e in events if len(done(e)) != 1}
    assert not not_once, f"event: times it was done, when not once: {not_once}"

    chains: dict[str, list[EventRow]] = defaultdict(list)
    for event in events:
        chains[event.key].append(event)
    overtaken = [
        f"{key}: event {later.id} began before event {earlier.id} was done"
        for key, chain in chains.items()
        for earlier, later in pairwise(chain)
        if min(a.started_at for a in later.attempt_log or ())
        < done(earlier)[0].finished_at - CLOCK_SLACK
    ]
    # Each record's insert is followed by its key's write-back at least.
    assert min(len(chain) for chain in chains.values()) >= 2
    assert not overtaken, overtaken

    shares = Counter(done(event)[0].worker for event in events)
    print(f"three workers: {len(events)} events, done {sorted(shares.values())} each")
    assert set(shares) == names, f"events done per worker: {dict(shares)}"


async def test_a_killed_workers_events_are_taken_by_another_once_its_lease_ends(
    postgres_url, tmp_path
):
    async with Installation(tmp_path, postgres_url, worker=WORKER_SETTINGS) as site:
        ids = await backlog(site, 40)
        doomed = site.start_worker()
        await doomed.started()
        await holding(site, doomed)
        doomed.kill()
        held = await site.held_by(doomed.name)
        heir = site.start_worker()
        await heir.started()
        await site.settle(heir, timeout=120)
        problems = await issue_problems(site, ids)
        events = {event.id: event for event in await site.events()}

    assert held, "the worker was killed holding no event"
    assert not problems, problems
    for event_id, lease_end in held.items():
        attempts = events[event_id].attempt_log or ()
        outcomes = [(a.worker, a.outcome) for a in attempts]
        assert outcomes == [(doomed.name, "expired"), (heir.name, "done")], outcomes
        assert attempts[1].started_at >= lease_end, (event_id, attempts, lease_end)


@pytest.mark.parametrize("command", ["worker", "serve"])
async def test_a_busy_process_stops_on_sigterm_and_leaves_no_event_in_progress(
    postgres_url, tmp_path, command
):
    async with Installation(tmp_path, postgres_url, worker=WORKER_SETTINGS) as site:
        await backlog(site, 40)
        process = site.start_worker() if command == "worker" else site.start_server()
        await process.started()
        held = await holding(site, process)
        process.signal(signal.SIGTERM)
        code = await process.wait(timeout=10)
        still = await site.held_by(process.name)
        states = {e.id: e.state for e in await site.events() if e.id in held}

    assert code == 0, process.tail()
    assert not still, f"events left in progress under its lease: {sorted(still)}"
    assert set(states.values()) <= {"done", "pending"}, states


async def test_store_failures_neither_end_a_worker_nor_bury_the_events_they_hit(
    postgres_url, tmp_path
):
    async with Installation(tmp_path, postgres_url, worker=WORKER_SETTINGS) as site:
        ids = await backlog(site, 10)
        # The first create intent fails inside the pipeline; so do the first two
        # audit rows: the record of that failure, then an outcome's commit.
        inject_deadlocks(postgres_url, {"caspira_links": 1, "caspira_audit": 2})
        worker = site.start_worker()
        await worker.started()
        await site.settle(worker, timeout=60)
        running = worker.running
        problems = await issue_problems(site, ids)
        events = await site.events()

    assert running, worker.tail()
    assert not problems, problems
    assert [e.id for e in events if e.state != "done"] == []
    assert "injected by the test" in worker.output()
