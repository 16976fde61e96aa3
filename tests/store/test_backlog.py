"""A backlog of thousands of events: claims stay oldest first, one event per key.

How fast a claim is over such a backlog is measured by bench/claim.py.
"""

from __future__ import annotations

import time

from caspira.store import Store
from tests.store.sample import record_event

KEYS = 400
PER_KEY = 5


def _backlog(store: Store) -> list[int]:
    # Keys interleave, so each key's events are spread over the whole backlog.
    return store.store_events(
        [
            record_event(f"record-{n % KEYS}", f"delivery-{n}")
            for n in range(KEYS * PER_KEY)
        ]
    )


def test_a_claim_over_a_large_backlog_takes_the_oldest_event_of_every_key(
    store: Store,
) -> None:
    ids = _backlog(store)

    claimed = store.claim("w1", limit=len(ids), lease_seconds=30)

    assert [event.id for event in claimed] == ids[:KEYS]
    assert len({event.key for event in claimed}) == KEYS


def test_the_next_event_of_every_key_follows_once_the_oldest_are_done(
    store: Store,
) -> None:
    ids = _backlog(store)
    for event in store.claim("w1", limit=len(ids), lease_seconds=30):
        store.complete(event.id, "w1")

    claimed = store.claim("w2", limit=len(ids), lease_seconds=30)

    assert [event.id for event in claimed] == ids[KEYS : 2 * KEYS]


def test_a_claim_of_a_few_takes_the_oldest_keys_first(store: Store) -> None:
    ids = _backlog(store)

    claimed = store.claim("w1", limit=16, lease_seconds=30)

    assert [event.id for event in claimed] == ids[:16]


def test_a_claim_reaches_past_a_backlog_waiting_behind_one_busy_key(
    store: Store,
) -> None:
    busy = store.store_events(
        [record_event("record-busy", f"busy-{n}") for n in range(2000)]
    )
    [other] = store.store_events([record_event("record-other", "other-1")])
    [held] = store.claim("w1", limit=1, lease_seconds=30)

    claimed = store.claim("w2", limit=10, lease_seconds=30)

    assert held.id == busy[0]
    assert [event.id for event in claimed] == [other]


def test_a_lapsed_lease_inside_a_backlog_is_claimed_again_before_newer_events(
    store: Store,
) -> None:
    ids = _backlog(store)
    first = store.claim("w1", limit=16, lease_seconds=0.2)
    for event in first:
        if event.id != ids[9]:
            store.complete(event.id, "w1")
    time.sleep(0.25)

    claimed = store.claim("w2", limit=3, lease_seconds=30)

    assert [event.id for event in claimed] == [ids[9], ids[16], ids[17]]
    assert claimed[0].attempts == 2
