"""The values the store takes and answers: claimed events, links, audit rows.

All are frozen pydantic models; datetimes in them are timezone-aware UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AttemptOutcome",
    "AttemptRow",
    "AuditRecord",
    "AuditRow",
    "AuditTarget",
    "ClaimedEvent",
    "CommentLink",
    "EventRow",
    "EventState",
    "FieldSync",
    "FieldSyncUpdate",
    "Link",
    "LinkState",
    "LinkUpdate",
]

#: pending: waiting for its next attempt; in_progress: a worker holds its lease;
#: done: applied; dead: given up (failed for good, or discarded by an operator).
EventState = Literal["pending", "in_progress", "done", "dead"]

#: How an attempt ended; ``expired`` when its lease ran out and another claim took it.
AttemptOutcome = Literal["done", "retry", "dead", "released", "expired"]

#: ``creating`` while a create may be in flight, ``linked`` once the issue is known.
LinkState = Literal["creating", "linked"]

AuditTarget = Literal["jira", "caspio", "slack", "caspira"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ClaimedEvent(_Frozen):
    """An event a worker now holds under a lease until ``lease_expires_at``.

    ``attempts`` counts this attempt: 1 on the first claim.
    """

    id: int
    key: str
    kind: str
    flow: str | None
    source: str
    payload: dict[str, Any]
    attempts: int
    delivery_id: str
    lease_expires_at: datetime


class AttemptRow(_Frozen):
    """One claim of an event; ``outcome`` is ``None`` while the attempt is open."""

    number: int
    worker: str
    started_at: datetime
    finished_at: datetime | None
    outcome: AttemptOutcome | None
    error: str | None


class EventRow(_Frozen):
    """A stored event as the inspection calls show it.

    ``attempt_log`` is filled by ``Store.event`` and left ``None`` by ``Store.events``.
    ``discarded_at`` is set when an operator discarded the event.
    """

    id: int
    tenant: str
    source: str
    kind: str
    flow: str | None
    key: str
    delivery_id: str
    payload: dict[str, Any]
    state: EventState
    attempts: int
    next_attempt_at: datetime
    lease_owner: str | None
    lease_expires_at: datetime | None
    last_error: str | None
    discarded_at: datetime | None
    received_at: datetime
    updated_at: datetime
    attempt_log: tuple[AttemptRow, ...] | None = None


class Link(_Frozen):
    """A Caspio record's link to its Jira issue.

    While ``state`` is ``creating`` the issue may or may not exist yet, and
    ``issue_key`` is ``None`` unless an earlier link is being replaced.
    """

    flow: str
    record_id: str
    issue_key: str | None
    issue_id: str | None
    state: LinkState
    idempotency_key: str | None
    fingerprint: str | None
    created_at: datetime
    updated_at: datetime


class LinkUpdate(_Frozen):
    """Record that ``record_id`` is linked to an issue; written when an event completes.

    ``fingerprint`` is the hash of what was last sent to Jira. ``None`` for
    ``fingerprint`` or ``idempotency_key`` keeps the value already stored.
    """

    flow: str
    record_id: str
    issue_key: str
    issue_id: str
    fingerprint: str | None = None
    idempotency_key: str | None = None


class AuditRecord(_Frozen):
    """An audit entry to write; the store adds the event id, tenant and time."""

    action: str
    target: AuditTarget
    flow: str | None = None
    record_id: str | None = None
    issue_key: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class AuditRow(_Frozen):
    """A stored audit entry."""

    id: int
    tenant: str
    at: datetime
    event_id: int | None
    flow: str | None
    record_id: str | None
    issue_key: str | None
    action: str
    target: AuditTarget
    detail: dict[str, Any]


class FieldSync(_Frozen):
    """What is known of one synced field of one record (see ``caspira_field_sync``)."""

    field: str
    value: str | None
    caspio_at: datetime | None
    jira_at: datetime | None
    written_caspio: str | None
    written_jira: str | None


class FieldSyncUpdate(_Frozen):
    """A change to a field's sync state, written when its event completes.

    Times only move forward (the newer of stored and given is kept); a ``None``
    ``written_*`` keeps what is stored.
    """

    flow: str
    record_id: str
    field: str
    value: str | None
    caspio_at: datetime | None = None
    jira_at: datetime | None = None
    written_caspio: str | None = None
    written_jira: str | None = None


class CommentLink(_Frozen):
    """A comment and its copy: ``origin`` says which side it was written on first."""

    flow: str
    record_id: str
    issue_key: str
    jira_comment_id: str
    caspio_comment_id: str
    origin: Literal["jira", "caspio"]
