"""Several claimers at once: threads sharing a store, processes with a store each."""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from caspira.store import Store
from tests.store.claimers import claim_until_empty, run_in_process
from tests.store.sample import record_event

EVENTS = 200
KEYS = 5


def _fill(store: Store) -> tuple[list[int], dict[int, int], dict[int, list[int]]]:
    # Keys interleave, so a batch of claims would hold several events of one key
    # at once if nothing kept them apart.
    ids = store.store_events(
        [record_event(f"record-{n % KEYS}", f"delivery-{n}") for n in range(EVENTS)]
    )
    slots = {event_id: slot for slot, event_id in enumerate(ids)}
    older = {
        event_id: [slots[earlier] for earlier in ids[slot % KEYS : slot : KEYS]]
        for slot, event_id in enumerate(ids)
    }
    return ids, slots, older


def test_threads_claim_every_event_exactly_once_in_key_order(store: Store) -> None:
    ids, slots, older = _fill(store)
    marks = [0] * len(ids)
    lock = threading.Lock()
    deadline = time.monotonic() + 30

    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = [
            pool.submit(
                claim_until_empty,
                store,
                f"thread-{n}",
                slots=slots,
                older=older,
                marks=marks,
                lock=lock,
                deadline=deadline,
            )
            for n in range(4)
        ]
        outcomes = [run.result() for run in runs]

    claimed = [event_id for got, _ in outcomes for event_id in got]
    assert [problem for _, problems in outcomes for problem in problems] == []
    assert sorted(claimed) == ids
    assert store.counts() == {"pending": 0, "in_progress": 0, "done": 200, "dead": 0}


def test_processes_claim_every_event_exactly_once_in_key_order(
    store: Store, database_url: str
) -> None:
    ids, slots, older = _fill(store)
    context = multiprocessing.get_context("spawn")
    marks = context.Array("b", len(ids), lock=False)
    lock = context.Lock()
    start = context.Event()
    results = context.Queue()
    processes = [
        context.Process(
            target=run_in_process,
            args=(database_url, f"process-{n}", slots, older, marks, lock, start),
            kwargs={"results": results},
        )
        for n in range(3)
    ]
    for process in processes:
        process.start()

    start.set()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=10)

    claimed = [event_id for _, got, _ in outcomes for event_id in got]
    assert [problem for _, _, problems in outcomes for problem in problems] == []
    assert sorted(claimed) == ids
    assert len({worker for worker, got, _ in outcomes if got}) > 1
    assert [process.exitcode for process in processes] == [0, 0, 0]
    assert store.counts() == {"pending": 0, "in_progress": 0, "done": 200, "dead": 0}
