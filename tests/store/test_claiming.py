"""Claiming: due events go to one worker at a time, oldest first, one per key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from caspira.store import Store
from tests.store.sample import record_event


def _store_abc(store: Store) -> tuple[int, int, int]:
    a, b, c = store.store_events(
        [
            record_event("k1", "a"),
            record_event("k1", "b"),
            record_event("k2", "c"),
        ]
    )
    return a, b, c


def test_a_claim_takes_the_oldest_event_of_each_key(store: Store) -> None:
    a, _b, c = _store_abc(store)

    claimed = store.claim("w1", limit=10, lease_seconds=30)

    assert [event.id for event in claimed] == [a, c]


def test_the_next_event_of_a_key_waits_until_the_previous_completes(
    store: Store,
) -> None:
    a, b, _c = _store_abc(store)
    store.claim("w1", limit=10, lease_seconds=30)

    while_a_is_held = store.claim("w2", limit=10, lease_seconds=30)
    store.complete(a, "w1")
    after_a_is_done = store.claim("w2", limit=10, lease_seconds=30)

    assert while_a_is_held == []
    assert [event.id for event in after_a_is_done] == [b]


def test_a_key_waits_while_its_oldest_event_waits_for_a_retry(store: Store) -> None:
    a, _b, _c = _store_abc(store)
    store.claim("w1", limit=10, lease_seconds=30)
    store.fail(a, "w1", error="Jira answered 503", retry_in=60)

    assert store.claim("w2", limit=10, lease_seconds=30) == []


def test_a_dead_event_no_longer_holds_back_its_key(store: Store) -> None:
    a, b, _c = _store_abc(store)
    store.claim("w1", limit=10, lease_seconds=30)
    store.fail(a, "w1", error="the project does not exist", retry_in=None)

    claimed = store.claim("w2", limit=10, lease_seconds=30)

    assert [event.id for event in claimed] == [b]


def test_a_claim_takes_at_most_limit_events_oldest_first(store: Store) -> None:
    ids = store.store_events(
        [record_event(f"record-{n}", f"delivery-{n}") for n in range(5)]
    )

    claimed = store.claim("w1", limit=2, lease_seconds=30)

    assert [event.id for event in claimed] == ids[:2]


def test_a_claimed_event_carries_its_payload_lease_and_first_attempt(
    store: Store,
) -> None:
    payload = {"record_id": "7", "operation": "insert"}
    [event_id] = store.store_events(
        [record_event("record-7", "delivery-7", payload=payload)]
    )
    before = datetime.now(UTC)

    [event] = store.claim("w1", limit=1, lease_seconds=30)

    assert (event.id, event.key, event.delivery_id) == (
        event_id,
        "record-7",
        "delivery-7",
    )
    assert (event.kind, event.source, event.flow) == (
        "record_changed",
        "caspio",
        "bugs",
    )
    assert event.payload == payload
    assert event.attempts == 1
    lease_left = event.lease_expires_at - before
    assert timedelta(seconds=29) < lease_left <= timedelta(seconds=31)


def test_a_claim_is_written_down_as_an_open_attempt(store: Store) -> None:
    [event_id] = store.store_events([record_event("record-1", "delivery-1")])

    store.claim("w1", limit=1, lease_seconds=30)

    event = store.event(event_id)
    assert event is not None
    assert (event.state, event.lease_owner, event.attempts) == ("in_progress", "w1", 1)
    assert event.attempt_log is not None
    [attempt] = event.attempt_log
    assert (attempt.number, attempt.worker, attempt.outcome) == (1, "w1", None)
    assert attempt.finished_at is None


def test_a_claim_takes_only_its_own_tenants_events(
    store: Store, database_url: str
) -> None:
    with Store(database_url, tenant="acme") as other:
        other.store_events([record_event("record-1", "delivery-1")])

        assert store.claim("w1", limit=10, lease_seconds=30) == []
        assert len(other.claim("w1", limit=10, lease_seconds=30)) == 1
