"""Completing an event: done, its links and its audit rows, in one transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from caspira.store import AuditRecord, LinkUpdate, Store, UnstorableValue
from tests.store.sample import record_event


def _claimed(store: Store, key: str = "record-1", delivery: str = "delivery-1") -> int:
    store.store_events([record_event(key, delivery)])
    [event] = store.claim("w1", limit=1, lease_seconds=30)
    return event.id


def _link(**changes: str | None) -> LinkUpdate:
    values: dict[str, str | None] = {
        "flow": "bugs",
        "record_id": "1",
        "issue_key": "BUG-1",
        "issue_id": "10001",
        "fingerprint": "f1",
        "idempotency_key": "caspira-bugs-1",
    }
    return LinkUpdate.model_validate({**values, **changes})


def test_complete_marks_the_event_done_and_closes_its_attempt(store: Store) -> None:
    event_id = _claimed(store)

    store.complete(event_id, "w1")

    event = store.event(event_id)
    assert event is not None
    assert (event.state, event.lease_owner, event.lease_expires_at) == (
        "done",
        None,
        None,
    )
    assert event.attempt_log is not None
    assert [(a.outcome, a.error) for a in event.attempt_log] == [("done", None)]


def test_complete_writes_the_link_as_linked(store: Store) -> None:
    event_id = _claimed(store)

    store.complete(event_id, "w1", links=[_link()])

    link = store.get_link("bugs", "1")
    assert link is not None
    assert (link.state, link.issue_key, link.issue_id) == ("linked", "BUG-1", "10001")
    assert (link.fingerprint, link.idempotency_key) == ("f1", "caspira-bugs-1")


def test_complete_writes_audit_rows_with_the_event_id(store: Store) -> None:
    event_id = _claimed(store)
    record = AuditRecord(
        action="issue_created",
        target="jira",
        flow="bugs",
        record_id="1",
        issue_key="BUG-1",
        detail={"project": "BUG", "issue_type": "Bug"},
    )

    store.complete(event_id, "w1", audit=[record])

    [row] = store.audit()
    assert (row.event_id, row.action, row.target, row.issue_key) == (
        event_id,
        "issue_created",
        "jira",
        "BUG-1",
    )
    assert row.detail == {"project": "BUG", "issue_type": "Bug"}
    assert row.at.tzinfo == UTC


def test_an_unstorable_audit_detail_leaves_the_event_held_and_nothing_written(
    store: Store,
) -> None:
    event_id = _claimed(store)
    bad = AuditRecord(action="issue_created", target="jira", detail={"at": object()})

    with pytest.raises(UnstorableValue, match="audit detail of action 'issue_created'"):
        store.complete(event_id, "w1", links=[_link()], audit=[bad])

    event = store.event(event_id)
    assert event is not None
    assert (event.state, event.lease_owner) == ("in_progress", "w1")
    assert store.get_link("bugs", "1") is None
    assert store.audit() == []


def test_a_link_update_moves_the_link_and_keeps_an_unsent_fingerprint(
    store: Store,
) -> None:
    store.complete(_claimed(store), "w1", links=[_link()])
    second = _claimed(store, delivery="delivery-2")

    store.complete(
        second,
        "w1",
        links=[
            _link(
                issue_key="OPS-9",
                issue_id="20009",
                fingerprint=None,
                idempotency_key=None,
            )
        ],
    )

    link = store.get_link("bugs", "1")
    assert link is not None
    assert (link.issue_key, link.issue_id) == ("OPS-9", "20009")
    assert (link.fingerprint, link.idempotency_key) == ("f1", "caspira-bugs-1")
    assert link.updated_at > link.created_at


def test_begin_create_commits_a_creating_link(store: Store) -> None:
    link = store.begin_create("bugs", "1", "caspira-bugs-1")

    assert (link.state, link.issue_key, link.idempotency_key) == (
        "creating",
        None,
        "caspira-bugs-1",
    )
    assert store.get_link("bugs", "1") == link


def test_begin_create_answers_the_stored_link_untouched(store: Store) -> None:
    first = store.begin_create("bugs", "1", "caspira-bugs-1")

    again = store.begin_create("bugs", "1", "another-key")

    assert again == first


def test_a_completed_create_turns_the_creating_link_into_linked(store: Store) -> None:
    store.begin_create("bugs", "1", "caspira-bugs-1")

    store.complete(_claimed(store), "w1", links=[_link()])

    link = store.begin_create("bugs", "1", "caspira-bugs-1")
    assert (link.state, link.issue_key) == ("linked", "BUG-1")


def test_link_by_issue_finds_the_record_of_an_issue(store: Store) -> None:
    store.complete(_claimed(store), "w1", links=[_link(record_id="42")])

    link = store.link_by_issue("BUG-1")

    assert link is not None
    assert (link.flow, link.record_id) == ("bugs", "42")
    assert store.link_by_issue("BUG-2") is None


def test_links_are_kept_apart_per_tenant(store: Store, database_url: str) -> None:
    store.begin_create("bugs", "1", "caspira-bugs-1")

    with Store(database_url, tenant="acme") as other:
        assert other.get_link("bugs", "1") is None


def test_add_audit_writes_rows_without_an_event(store: Store) -> None:
    store.add_audit(
        [AuditRecord(action="notify_failed", target="slack", detail={"status": 500})]
    )

    [row] = store.audit()
    assert (row.event_id, row.action, row.target, row.detail) == (
        None,
        "notify_failed",
        "slack",
        {"status": 500},
    )


def test_audit_lists_a_records_rows_newest_first(store: Store) -> None:
    store.add_audit(
        [
            AuditRecord(
                action="issue_created", target="jira", flow="bugs", record_id="1"
            ),
            AuditRecord(action="skipped", target="caspira", flow="bugs", record_id="2"),
            AuditRecord(
                action="issue_updated", target="jira", flow="bugs", record_id="1"
            ),
            AuditRecord(
                action="issue_created", target="jira", flow="ops", record_id="1"
            ),
        ]
    )

    rows = store.audit(flow="bugs", record_id="1")

    assert [row.action for row in rows] == ["issue_updated", "issue_created"]
    assert [row.action for row in store.audit(limit=1)] == ["issue_created"]
    assert len(store.audit(flow="bugs")) == 3


def test_audit_times_are_aware_and_recent(store: Store) -> None:
    before = datetime.now(UTC)

    store.add_audit([AuditRecord(action="skipped", target="caspira")])

    [row] = store.audit()
    assert before <= row.at <= datetime.now(UTC)
