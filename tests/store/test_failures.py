"""Failures, retries, the dead letters, operator actions and the counts."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from caspira.store import (
    AuditRecord,
    EventNotFound,
    EventStateError,
    LeaseLost,
    Store,
)
from tests.store.sample import record_event


def _claimed(store: Store, delivery: str = "delivery-1") -> int:
    store.store_events([record_event("record-1", delivery)])
    [event] = store.claim("w1", limit=1, lease_seconds=30)
    return event.id


def test_a_retryable_failure_makes_the_event_pending_after_the_delay(
    store: Store,
) -> None:
    event_id = _claimed(store)
    before = datetime.now(UTC)

    state = store.fail(event_id, "w1", error="Jira answered 503", retry_in=30)

    event = store.event(event_id)
    assert state == "pending"
    assert event is not None
    assert (event.state, event.last_error, event.lease_owner) == (
        "pending",
        "Jira answered 503",
        None,
    )
    wait = event.next_attempt_at - before
    assert timedelta(seconds=29) < wait <= timedelta(seconds=31)
    assert store.claim("w2", limit=1, lease_seconds=30) == []


def test_a_retried_event_is_claimable_once_its_delay_has_passed(store: Store) -> None:
    event_id = _claimed(store)
    store.fail(event_id, "w1", error="Jira answered 429", retry_in=0.2)

    too_early = store.claim("w2", limit=1, lease_seconds=30)
    time.sleep(0.25)
    [event] = store.claim("w2", limit=1, lease_seconds=30)

    assert too_early == []
    assert (event.id, event.attempts) == (event_id, 2)


def test_a_failure_that_is_not_retryable_makes_the_event_dead(store: Store) -> None:
    event_id = _claimed(store)

    state = store.fail(event_id, "w1", error="field 'Severity' unknown", retry_in=None)

    event = store.event(event_id)
    assert state == "dead"
    assert event is not None
    assert (event.state, event.last_error) == ("dead", "field 'Severity' unknown")
    assert event.attempt_log is not None
    assert [(a.outcome, a.error) for a in event.attempt_log] == [
        ("dead", "field 'Severity' unknown")
    ]


def test_the_last_allowed_attempt_failing_makes_the_event_dead(
    database_url: str,
) -> None:
    with Store(database_url, max_attempts=2) as store:
        store.migrate()
        event_id = _claimed(store)
        first = store.fail(event_id, "w1", error="timeout", retry_in=0)
        store.claim("w1", limit=1, lease_seconds=30)
        second = store.fail(event_id, "w1", error="timeout", retry_in=0)

    assert (first, second) == ("pending", "dead")


def test_fail_writes_the_callers_audit_rows_and_its_decision(store: Store) -> None:
    event_id = _claimed(store)
    failed = AuditRecord(
        action="event_failed", target="caspira", flow="bugs", detail={"attempt": 1}
    )

    store.fail(event_id, "w1", error="Jira answered 503", retry_in=30, audit=[failed])

    decision, caller = store.audit()
    assert (caller.action, caller.event_id) == ("event_failed", event_id)
    assert (decision.action, decision.event_id) == ("event_retry", event_id)
    assert decision.detail["error"] == "Jira answered 503"
    assert decision.detail["attempt"] == 1
    retry_at = datetime.fromisoformat(decision.detail["retry_at"])
    event = store.event(event_id)
    assert event is not None
    assert retry_at == event.next_attempt_at


def test_a_dead_event_is_audited_as_such(store: Store) -> None:
    event_id = _claimed(store)

    store.fail(event_id, "w1", error="project BUG does not exist", retry_in=None)

    [row] = store.audit()
    assert (row.action, row.target, row.event_id) == ("event_dead", "caspira", event_id)
    assert row.detail == {"error": "project BUG does not exist", "attempt": 1}


def test_retry_event_requeues_a_dead_event_with_fresh_attempts(store: Store) -> None:
    event_id = _claimed(store)
    store.fail(event_id, "w1", error="project BUG does not exist", retry_in=None)

    store.retry_event(event_id)
    [again] = store.claim("w2", limit=1, lease_seconds=30)

    assert (again.id, again.attempts) == (event_id, 1)
    assert store.audit()[0].action == "event_requeued"


def test_retry_event_refuses_an_event_that_is_not_dead(store: Store) -> None:
    [event_id] = store.store_events([record_event("record-1", "delivery-1")])

    with pytest.raises(EventStateError, match=f"event {event_id} is pending"):
        store.retry_event(event_id)


def test_retry_event_of_an_unknown_id_raises_event_not_found(store: Store) -> None:
    with pytest.raises(EventNotFound, match="event 999999 does not exist"):
        store.retry_event(999999)


def test_discard_event_makes_a_pending_event_dead_and_marked(store: Store) -> None:
    [event_id] = store.store_events([record_event("record-1", "delivery-1")])

    store.discard_event(event_id)

    event = store.event(event_id)
    assert event is not None
    assert event.state == "dead"
    assert event.discarded_at is not None
    assert store.claim("w1", limit=1, lease_seconds=30) == []
    assert [(row.action, row.event_id) for row in store.audit()] == [
        ("event_discarded", event_id)
    ]


def test_discarding_a_held_event_takes_it_from_its_worker(store: Store) -> None:
    event_id = _claimed(store)

    store.discard_event(event_id)

    with pytest.raises(LeaseLost, match="it is dead now"):
        store.complete(event_id, "w1")
    event = store.event(event_id)
    assert event is not None
    assert event.attempt_log is not None
    assert [a.outcome for a in event.attempt_log] == ["dead"]


def test_discard_event_refuses_a_done_event(store: Store) -> None:
    event_id = _claimed(store)
    store.complete(event_id, "w1")

    with pytest.raises(EventStateError, match="discard applies only to"):
        store.discard_event(event_id)


def test_a_retried_discarded_event_is_no_longer_marked(store: Store) -> None:
    [event_id] = store.store_events([record_event("record-1", "delivery-1")])
    store.discard_event(event_id)

    store.retry_event(event_id)

    event = store.event(event_id)
    assert event is not None
    assert (event.state, event.discarded_at) == ("pending", None)


def test_counts_report_every_state_even_when_empty(store: Store) -> None:
    assert store.counts() == {"pending": 0, "in_progress": 0, "done": 0, "dead": 0}


def test_counts_report_events_per_state(store: Store) -> None:
    done, dead, held, _waiting = store.store_events(
        [record_event(f"record-{n}", f"delivery-{n}") for n in range(4)]
    )
    store.claim("w1", limit=3, lease_seconds=30)
    store.complete(done, "w1")
    store.fail(dead, "w1", error="bad", retry_in=None)

    assert store.counts() == {"pending": 1, "in_progress": 1, "done": 1, "dead": 1}
    assert held not in {event.id for event in store.events(state="pending")}


def test_events_filter_by_state_and_flow_newest_first(store: Store) -> None:
    first, second, _ops = store.store_events(
        [
            record_event("record-1", "delivery-1"),
            record_event("record-2", "delivery-2"),
            record_event("ticket-1", "delivery-3", flow="ops"),
        ]
    )
    store.claim("w1", limit=1, lease_seconds=30)

    assert [event.id for event in store.events(flow="bugs")] == [second, first]
    assert [event.id for event in store.events(state="in_progress")] == [first]
    assert store.events(flow="bugs")[0].attempt_log is None


def test_events_older_than_an_age_leave_out_recent_ones(store: Store) -> None:
    store.store_events([record_event("record-1", "delivery-1")])

    assert store.events(older_than=timedelta(hours=1)) == []
    assert len(store.events(older_than=datetime.now(UTC) + timedelta(seconds=1))) == 1


def test_discarding_twice_audits_once(store: Store) -> None:
    [event_id] = store.store_events([record_event("record-1", "delivery-1")])
    store.discard_event(event_id)

    store.discard_event(event_id)

    assert [row.action for row in store.audit()] == ["event_discarded"]
