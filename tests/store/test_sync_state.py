"""The two-way sync state: per-field state and comment links, written with the event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from caspira.store import CommentLink, FieldSyncUpdate, Store, StoreError
from tests.store.sample import record_event

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def complete_with(store: Store, **outcome) -> None:
    store.store_events([record_event("bugs:7", "d-1")])
    (claimed,) = store.claim("w", limit=1, lease_seconds=30)
    store.complete(claimed.id, "w", **outcome)


def test_field_state_is_written_with_the_event_and_read_by_record(store):
    complete_with(
        store,
        field_sync=[
            FieldSyncUpdate(
                flow="bugs",
                record_id="7",
                field="status",
                value="Triaged",
                jira_at=T0,
                written_caspio="Triaged",
            )
        ],
    )

    state = store.field_sync("bugs", "7")["status"]
    assert (state.value, state.jira_at, state.written_caspio) == (
        "Triaged",
        T0,
        "Triaged",
    )
    assert state.caspio_at is None and state.written_jira is None
    assert store.field_sync("bugs", "8") == {}


def test_times_only_move_forward_and_unset_writes_keep_what_is_stored(store):
    first = FieldSyncUpdate(
        flow="bugs",
        record_id="7",
        field="priority",
        value="High",
        jira_at=T0 + timedelta(minutes=5),
        written_caspio="High",
    )
    older = FieldSyncUpdate(
        flow="bugs",
        record_id="7",
        field="priority",
        value="Low",
        jira_at=T0,
        caspio_at=T0,
    )
    for update in (first, older):
        store.store_events([record_event("bugs:7", f"d-{update.value}")])
        (claimed,) = store.claim("w", limit=1, lease_seconds=30)
        store.complete(claimed.id, "w", field_sync=[update])

    state = store.field_sync("bugs", "7")["priority"]
    assert state.value == "Low"
    assert state.jira_at == T0 + timedelta(minutes=5)
    assert state.caspio_at == T0
    assert state.written_caspio == "High"


def test_a_comment_link_is_found_from_either_side(store):
    link = CommentLink(
        flow="bugs",
        record_id="7",
        issue_key="APP-1",
        jira_comment_id="10001",
        caspio_comment_id="55",
        origin="jira",
    )
    complete_with(store, comment_links=[link])

    assert store.comment_link("bugs", jira_comment_id="10001") == link
    assert store.comment_link("bugs", caspio_comment_id="55") == link
    assert store.comment_link("bugs", caspio_comment_id="56") is None
    assert store.comment_link("other", jira_comment_id="10001") is None
    with pytest.raises(StoreError, match="exactly one"):
        store.comment_link("bugs")
