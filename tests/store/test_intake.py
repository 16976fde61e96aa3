"""Intake: deliveries become pending events, once each, a batch at a time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from caspira.store import Store, UnstorableValue
from tests.store.sample import record_event


def test_a_delivery_stored_twice_is_stored_once(store: Store) -> None:
    first = store.store_events([record_event("record-1", "delivery-1")])
    again = store.store_events([record_event("record-1", "delivery-1")])

    assert len(first) == 1
    assert again == []
    assert store.counts()["pending"] == 1


def test_a_delivery_repeated_inside_one_batch_is_stored_once(store: Store) -> None:
    stored = store.store_events(
        [record_event("record-1", "delivery-1"), record_event("record-1", "delivery-1")]
    )

    assert len(stored) == 1
    assert [event.delivery_id for event in store.events()] == ["delivery-1"]


def test_new_ids_come_back_in_delivery_order_without_the_known_ones(
    store: Store,
) -> None:
    store.store_events([record_event("record-2", "delivery-2")])

    stored = store.store_events(
        [
            record_event("record-1", "delivery-1"),
            record_event("record-2", "delivery-2"),
            record_event("record-3", "delivery-3"),
        ]
    )

    assert [store.event(event_id).delivery_id for event_id in stored] == [
        "delivery-1",
        "delivery-3",
    ]
    assert stored == sorted(stored)


def test_a_batch_with_one_unstorable_payload_stores_nothing(store: Store) -> None:
    batch = [
        record_event("record-1", "delivery-1"),
        record_event("record-2", "delivery-2", payload={"seen": datetime.now(UTC)}),
    ]

    with pytest.raises(UnstorableValue, match="payload of delivery 'delivery-2'"):
        store.store_events(batch)

    assert store.counts() == {"pending": 0, "in_progress": 0, "done": 0, "dead": 0}


def test_a_stored_event_reads_back_pending_with_aware_utc_times(store: Store) -> None:
    before = datetime.now(UTC)
    payload = {"record_id": "7", "values": {"Title": "Crash\non save", "Severity": 3}}

    [event_id] = store.store_events(
        [record_event("record-7", "delivery-7", payload=payload)]
    )
    event = store.event(event_id)

    assert event is not None
    assert (event.state, event.attempts, event.payload) == ("pending", 0, payload)
    assert (event.source, event.kind, event.flow, event.key) == (
        "caspio",
        "record_changed",
        "bugs",
        "record-7",
    )
    assert event.received_at.tzinfo == UTC
    assert before <= event.received_at <= datetime.now(UTC)
    assert event.next_attempt_at == event.received_at


def test_the_same_delivery_id_is_a_new_event_for_another_tenant(
    store: Store, database_url: str
) -> None:
    store.store_events([record_event("record-1", "delivery-1")])

    with Store(database_url, tenant="acme") as other:
        stored = other.store_events([record_event("record-1", "delivery-1")])
        other_counts = other.counts()

    assert len(stored) == 1
    assert other_counts["pending"] == 1
    assert store.counts()["pending"] == 1


def test_migrating_again_keeps_what_is_stored(store: Store) -> None:
    [event_id] = store.store_events([record_event("record-1", "delivery-1")])

    store.migrate()

    stored = store.event(event_id)
    assert stored is not None
    assert stored.delivery_id == "delivery-1"


def test_a_batch_of_5000_records_is_stored_in_one_intake(store: Store) -> None:
    batch = [record_event(f"record-{n}", f"delivery-{n}") for n in range(5000)]

    stored = store.store_events(batch)

    assert len(stored) == 5000
    assert stored == sorted(stored)
    assert store.counts()["pending"] == 5000
    assert store.event(stored[-1]).delivery_id == "delivery-4999"


def test_a_large_batch_skips_the_deliveries_already_stored(store: Store) -> None:
    store.store_events([record_event("record-7", "delivery-7")])
    batch = [record_event(f"record-{n}", f"delivery-{n}") for n in range(100)]

    stored = store.store_events(batch)

    assert len(stored) == 99
    assert store.counts()["pending"] == 100
    assert store.event(stored[7]).delivery_id == "delivery-8"
