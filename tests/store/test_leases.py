"""Leases: a worker holds an event until it reports or its lease runs out."""

from __future__ import annotations

import time

import pytest

from caspira.store import LeaseLost, LinkUpdate, Store
from tests.store.sample import record_event

SHORT = 0.1


def _held(store: Store, worker: str = "w1", lease: float = SHORT) -> int:
    store.store_events([record_event("record-1", "delivery-1")])
    [event] = store.claim(worker, limit=1, lease_seconds=lease)
    return event.id


def test_an_event_is_not_claimable_while_its_lease_runs(store: Store) -> None:
    _held(store, lease=30)

    assert store.claim("w2", limit=1, lease_seconds=30) == []


def test_an_expired_lease_makes_the_event_claimable_again(store: Store) -> None:
    event_id = _held(store)
    time.sleep(SHORT + 0.05)

    [event] = store.claim("w2", limit=1, lease_seconds=30)

    assert (event.id, event.attempts) == (event_id, 2)


def test_the_expired_attempt_is_closed_when_another_worker_claims(
    store: Store,
) -> None:
    event_id = _held(store)
    time.sleep(SHORT + 0.05)
    store.claim("w2", limit=1, lease_seconds=30)

    event = store.event(event_id)

    assert event is not None
    assert event.attempt_log is not None
    assert [(a.number, a.worker, a.outcome) for a in event.attempt_log] == [
        (1, "w1", "expired"),
        (2, "w2", None),
    ]


def test_a_late_complete_after_another_claim_raises_lease_lost(store: Store) -> None:
    event_id = _held(store)
    time.sleep(SHORT + 0.05)
    store.claim("w2", limit=1, lease_seconds=30)
    link = LinkUpdate(flow="bugs", record_id="1", issue_key="BUG-1", issue_id="10001")

    with pytest.raises(LeaseLost) as lost:
        store.complete(event_id, "w1", links=[link])

    assert (lost.value.state, lost.value.holder) == ("in_progress", "w2")
    assert store.get_link("bugs", "1") is None
    event = store.event(event_id)
    assert event is not None
    assert (event.state, event.lease_owner) == ("in_progress", "w2")


def test_a_lapsed_lease_nobody_took_can_still_complete(store: Store) -> None:
    event_id = _held(store)
    time.sleep(SHORT + 0.05)

    store.complete(event_id, "w1")

    event = store.event(event_id)
    assert event is not None
    assert event.state == "done"


def test_extend_lease_keeps_the_event_from_other_workers(store: Store) -> None:
    event_id = _held(store)

    store.extend_lease(event_id, "w1", 30)
    time.sleep(SHORT + 0.05)

    assert store.claim("w2", limit=1, lease_seconds=30) == []


def test_extend_lease_by_a_worker_that_does_not_hold_it_raises_lease_lost(
    store: Store,
) -> None:
    event_id = _held(store, lease=30)

    with pytest.raises(LeaseLost, match="worker 'w1' holds it now"):
        store.extend_lease(event_id, "w2", 30)


def test_fail_by_a_worker_that_does_not_hold_it_raises_lease_lost(
    store: Store,
) -> None:
    event_id = _held(store, lease=30)

    with pytest.raises(LeaseLost):
        store.fail(event_id, "w2", error="timeout", retry_in=1)

    event = store.event(event_id)
    assert event is not None
    assert (event.state, event.last_error) == ("in_progress", None)


def test_a_released_event_is_due_at_once_without_spending_an_attempt(
    store: Store,
) -> None:
    event_id = _held(store, lease=30)

    store.release(event_id, "w1")
    [again] = store.claim("w2", limit=1, lease_seconds=30)

    assert (again.id, again.attempts) == (event_id, 1)
    event = store.event(event_id)
    assert event is not None
    assert event.attempt_log is not None
    assert [(a.number, a.outcome) for a in event.attempt_log] == [
        (1, "released"),
        (2, None),
    ]


def test_an_event_whose_lease_keeps_running_out_is_buried(database_url: str) -> None:
    with Store(database_url, max_attempts=2) as store:
        store.migrate()
        event_id = _held(store)
        time.sleep(SHORT + 0.05)
        store.claim("w2", limit=1, lease_seconds=SHORT)
        time.sleep(SHORT + 0.05)

        claimed = store.claim("w3", limit=1, lease_seconds=30)
        event = store.event(event_id)
        [entry] = store.audit()

    assert claimed == []
    assert event is not None
    assert event.state == "dead"
    assert event.last_error is not None
    assert "lease ran out 2 times" in event.last_error
    assert (entry.action, entry.event_id) == ("event_dead", event_id)
