"""A claim loop run by threads and spawned processes in the concurrency tests.

Every claimer checks, under one shared lock, that an event it gets was never
handed out before and that the older events of its key were already finished.
"""

from __future__ import annotations

import time
from collections.abc import MutableSequence
from contextlib import AbstractContextManager
from typing import Any

from caspira.store import LeaseLost, Store

UNCLAIMED, CLAIMED, FINISHING = 0, 1, 2


def claim_until_empty(
    store: Store,
    worker: str,
    *,
    slots: dict[int, int],
    older: dict[int, list[int]],
    marks: MutableSequence[int],
    lock: AbstractContextManager[Any],
    deadline: float,
) -> tuple[list[int], list[str]]:
    """Claim and complete until nothing is pending; answer (claimed ids, problems).

    ``slots`` maps an event id to its index in ``marks``; ``older`` maps it to the
    slots of the earlier events of its key.
    """
    claimed: list[int] = []
    problems: list[str] = []
    while time.monotonic() < deadline:
        batch = store.claim(worker, limit=3, lease_seconds=30)
        if not batch:
            counts = store.counts()
            if counts["pending"] == 0 and counts["in_progress"] == 0:
                return claimed, problems
            time.sleep(0.02)
            continue
        with lock:
            for event in batch:
                slot = slots[event.id]
                if marks[slot] != UNCLAIMED:
                    problems.append(f"event {event.id} handed out twice")
                waiting = [s for s in older[event.id] if marks[s] != FINISHING]
                if waiting:
                    problems.append(f"event {event.id} claimed before slots {waiting}")
                marks[slot] = CLAIMED
        for event in batch:
            claimed.append(event.id)
            with lock:
                marks[slots[event.id]] = FINISHING
            try:
                store.complete(event.id, worker)
            except LeaseLost:
                problems.append(f"event {event.id} was taken from {worker}")
    problems.append(f"{worker} ran out of time")
    return claimed, problems


def run_in_process(
    url: str,
    worker: str,
    slots: dict[int, int],
    older: dict[int, list[int]],
    marks: Any,
    lock: Any,
    start: Any,
    results: Any,
) -> None:
    """Entry point of a spawned process: its own Store, then the claim loop."""
    try:
        with Store(url) as store:
            start.wait()
            claimed, problems = claim_until_empty(
                store,
                worker,
                slots=slots,
                older=older,
                marks=marks,
                lock=lock,
                deadline=time.monotonic() + 30,
            )
    except Exception as exc:
        # Answer the parent anyway, so a broken claim fails the test at once.
        claimed, problems = [], [f"{worker} stopped: {exc!r}"]
    results.put((worker, claimed, problems))
