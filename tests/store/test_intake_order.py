"""Intakes at the same moment: those sharing a key commit one after the other.

A claim relies on the ids of one key growing in commit order. One intake is
stopped just before it inserts, its locks taken, while another runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from caspira.store import Store
from caspira_hookspecs import InboundEvent
from tests.store.sample import record_event

PAUSED = "paused-intake"
#: More distinct keys than an intake locks one by one.
LARGE = 40


class _Pause:
    """Stops the intake running in a thread named PAUSED before its INSERT."""

    def __init__(self) -> None:
        self.reached = threading.Event()
        self.released = threading.Event()

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if threading.current_thread().name.startswith(PAUSED) and statement.startswith(
            "INSERT INTO caspira_events"
        ):
            self.reached.set()
            self.released.wait(timeout=20)


@pytest.fixture
def pause() -> Iterator[_Pause]:
    hold = _Pause()
    event.listen(Engine, "before_cursor_execute", hold)
    yield hold
    hold.released.set()
    event.remove(Engine, "before_cursor_execute", hold)


def _large(prefix: str) -> list[InboundEvent]:
    return [record_event(f"record-{n}", f"{prefix}-{n}") for n in range(LARGE)]


def _run_while_paused(
    store: Store,
    pause: _Pause,
    first: list[InboundEvent],
    second: list[InboundEvent],
    *,
    patience: float = 0.5,
) -> tuple[list[int], list[int], bool]:
    """Start ``first`` and pause it, run ``second``; answer both ids and whether
    ``second`` was still waiting after ``patience`` seconds."""
    with (
        ThreadPoolExecutor(1, thread_name_prefix=PAUSED) as paused,
        ThreadPoolExecutor(1) as free,
    ):
        held = paused.submit(store.store_events, first)
        assert pause.reached.wait(timeout=10)
        running = free.submit(store.store_events, second)
        done, _ = wait([running], timeout=patience)
        pause.released.set()
        return held.result(timeout=30), running.result(timeout=30), not done


def test_a_large_batch_waits_for_a_small_intake_of_a_shared_key(
    store: Store, pause: _Pause
) -> None:
    small = [record_event("record-1", "small-1")]

    [small_id], large_ids, waited = _run_while_paused(
        store, pause, small, _large("large")
    )

    assert waited
    assert small_id < large_ids[1]


def test_a_small_intake_waits_for_a_large_batch_with_its_key(
    store: Store, pause: _Pause
) -> None:
    small = [record_event("record-1", "small-1")]

    large_ids, [small_id], waited = _run_while_paused(
        store, pause, _large("large"), small
    )

    assert waited
    assert large_ids[1] < small_id


def test_small_intakes_of_different_keys_do_not_wait_for_each_other(
    postgres_url: str, pause: _Pause
) -> None:
    with Store(postgres_url) as store:
        store.migrate()

        [first_id], [second_id], waited = _run_while_paused(
            store,
            pause,
            [record_event("record-1", "delivery-1")],
            [record_event("record-2", "delivery-2")],
            patience=10,
        )

    assert not waited
    assert second_id < first_id
