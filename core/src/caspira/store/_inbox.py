"""The inbox's moves: store deliveries, claim them under a lease, settle each attempt.

Each function runs inside a write transaction the :class:`~caspira.store.Store` opens.
Per-key order rests on two facts: a claim takes only the oldest unfinished event of
each key, and ids of one key grow in commit order (intake serialises per key).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from caspira.store._errors import LeaseLost, UnstorableValue
from caspira.store._models import ClaimedEvent
from caspira.store._schema import InboxAttempt, InboxEvent
from caspira_hookspecs import InboundEvent

__all__ = [
    "Buried",
    "add_events",
    "claim_events",
    "finish_attempt",
    "held_event",
    "insert_statement",
    "require_json",
]

_OPEN_STATES = ("pending", "in_progress")


@dataclass(frozen=True)
class Buried:
    """An event a claim sent to the dead letters instead of handing it out."""

    event_id: int
    flow: str | None
    attempts: int
    error: str


def insert_statement(session: Session, table: type[Any]) -> Any:
    """An INSERT for ``table`` that knows the dialect's ``ON CONFLICT``."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def require_json(value: Any, what: str) -> None:
    """Raise :class:`UnstorableValue` unless ``value`` can be written as JSON."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise UnstorableValue(what, str(exc)) from None


def add_events(
    session: Session, tenant: str, events: Sequence[InboundEvent], now: datetime
) -> list[int]:
    """Insert ``events``; a delivery id already stored is skipped. Answers new ids."""
    if session.get_bind().dialect.name == "postgresql":
        # Concurrent intakes of one key would otherwise commit ids out of order,
        # and a claim could take a newer event before an older one is visible.
        for lock in sorted({_key_lock(tenant, event.key) for event in events}):
            session.exec(select(func.pg_advisory_xact_lock(lock)))

    stored: list[int] = []
    for event in events:
        require_json(event.payload, f"payload of delivery {event.delivery_id!r}")
        statement = (
            insert_statement(session, InboxEvent)
            .values(
                tenant=tenant,
                source=event.source,
                kind=event.kind,
                flow=event.flow,
                key=event.key,
                delivery_id=event.delivery_id,
                payload=event.payload,
                state="pending",
                attempts=0,
                next_attempt_at=now,
                received_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["tenant", "delivery_id"])
            .returning(col(InboxEvent.id))
        )
        new_id = session.exec(statement).scalar()
        if new_id is not None:
            stored.append(new_id)
    return stored


def _key_lock(tenant: str, key: str) -> int:
    digest = hashlib.blake2b(f"{tenant}\0{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def claim_events(
    session: Session,
    tenant: str,
    worker: str,
    *,
    limit: int,
    lease_seconds: float,
    max_attempts: int,
    now: datetime,
) -> tuple[list[ClaimedEvent], list[Buried]]:
    """Take up to ``limit`` due events for ``worker``, oldest first, one per key.

    An event whose lease ran out after ``max_attempts`` claims (a worker died on it
    each time) is buried instead: handing it out again would likely kill another.
    """
    older = aliased(InboxEvent)
    waits_for_older = (
        select(older.id)
        .where(
            older.tenant == InboxEvent.tenant,
            older.key == InboxEvent.key,
            col(older.id) < col(InboxEvent.id),
            col(older.state).in_(_OPEN_STATES),
        )
        .exists()
    )
    due = or_(
        and_(InboxEvent.state == "pending", col(InboxEvent.next_attempt_at) <= now),
        and_(
            InboxEvent.state == "in_progress",
            col(InboxEvent.lease_expires_at) <= now,
        ),
    )
    candidates = session.exec(
        select(InboxEvent)
        .where(InboxEvent.tenant == tenant, due, ~waits_for_older)
        .order_by(col(InboxEvent.id))
        .limit(limit)
        .with_for_update(skip_locked=True, of=InboxEvent)
    ).all()
    if not candidates:
        return [], []

    ids = [event.id for event in candidates]
    expired = [event.id for event in candidates if event.state == "in_progress"]
    if expired:
        _close_open_attempts(session, expired, "expired", now, "the lease ran out")
    tries = dict(
        session.exec(
            select(InboxAttempt.event_id, func.count())
            .where(col(InboxAttempt.event_id).in_(ids))
            .group_by(col(InboxAttempt.event_id))
        ).all()
    )

    claimed: list[ClaimedEvent] = []
    buried: list[Buried] = []
    lease_end = now + timedelta(seconds=lease_seconds)
    for event in candidates:
        if event.state == "in_progress" and event.attempts >= max_attempts:
            error = (
                f"the lease ran out {event.attempts} times without an outcome; "
                "the worker may crash on this event"
            )
            _settle(event, "dead", now, error)
            buried.append(Buried(event.id, event.flow, event.attempts, error))
            continue
        event.state = "in_progress"
        event.lease_owner = worker
        event.lease_expires_at = lease_end
        event.attempts += 1
        event.updated_at = now
        session.add(
            InboxAttempt(
                event_id=event.id,
                number=tries.get(event.id, 0) + 1,
                worker=worker,
                started_at=now,
            )
        )
        claimed.append(
            ClaimedEvent(
                id=event.id,
                key=event.key,
                kind=event.kind,
                flow=event.flow,
                source=event.source,
                payload=event.payload,
                attempts=event.attempts,
                delivery_id=event.delivery_id,
                lease_expires_at=lease_end,
            )
        )
    return claimed, buried


def held_event(session: Session, tenant: str, event_id: int, worker: str) -> InboxEvent:
    """The event ``worker`` holds, locked; raises :class:`LeaseLost` otherwise.

    A lease that ran out still counts as held while no other claim has taken the
    event: nobody else can be working on it, so the work need not be thrown away.
    """
    event = session.exec(
        select(InboxEvent)
        .where(InboxEvent.id == event_id, InboxEvent.tenant == tenant)
        .with_for_update()
    ).first()
    if event is None:
        raise LeaseLost(event_id, worker, None, None)
    if event.state != "in_progress" or event.lease_owner != worker:
        raise LeaseLost(event_id, worker, event.state, event.lease_owner)
    return event


def finish_attempt(
    session: Session,
    event: InboxEvent,
    *,
    state: str,
    outcome: str,
    now: datetime,
    error: str | None = None,
) -> None:
    """Move a held event to ``state``, drop its lease, end its attempt with ``outcome``.

    ``error``, when given, becomes the event's ``last_error`` and the attempt's error.
    """
    _settle(event, state, now, error)
    _close_open_attempts(session, [event.id], outcome, now, error)


def _close_open_attempts(
    session: Session,
    event_ids: list[Any],
    outcome: str,
    now: datetime,
    error: str | None,
) -> None:
    session.exec(
        update(InboxAttempt)
        .where(
            col(InboxAttempt.event_id).in_(event_ids),
            col(InboxAttempt.finished_at).is_(None),
        )
        .values(finished_at=now, outcome=outcome, error=error)
        # No attempt objects live in the session, so there is nothing to refresh.
        .execution_options(synchronize_session=False)
    )


def _settle(event: InboxEvent, state: str, now: datetime, error: str | None) -> None:
    event.state = state
    event.lease_owner = None
    event.lease_expires_at = None
    event.updated_at = now
    if error is not None:
        event.last_error = error
