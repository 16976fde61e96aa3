"""The state store: the event inbox, record-issue links and the audit trail of a tenant.

One :class:`Store` per process is enough; it is safe to share between threads.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Index, func, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import DropIndex
from sqlmodel import Session, SQLModel, col, select

from caspira.store._database import WRITE, describe, open_engine
from caspira.store._errors import (
    EventNotFound,
    EventStateError,
    StoreError,
)
from caspira.store._failures import store_failure
from caspira.store._inbox import (
    add_events,
    claim_events,
    finish_attempt,
    held_event,
    insert_statement,
    require_json,
)
from caspira.store._models import (
    AttemptRow,
    AuditRecord,
    AuditRow,
    ClaimedEvent,
    CommentLink,
    EventRow,
    EventState,
    FieldSync,
    FieldSyncUpdate,
    Link,
    LinkUpdate,
)
from caspira.store._schema import (
    RETIRED_INDEXES,
    AuditEntry,
    InboxAttempt,
    InboxEvent,
    IssueLink,
)
from caspira.store._sync import (
    find_comment_link,
    read_field_sync,
    write_comment_links,
    write_field_sync,
)
from caspira_hookspecs import InboundEvent

__all__ = ["Store"]

log = logging.getLogger(__name__)

_STATES: tuple[EventState, ...] = ("pending", "in_progress", "done", "dead")


def _now() -> datetime:
    return datetime.now(UTC)


class Store:
    """The state store of one tenant, in a SQLite file or a PostgreSQL database.

    ``url`` is ``sqlite:///caspira.db`` (a file) or ``postgresql+psycopg://user@host/db``.
    ``max_attempts`` is how many claims an event gets before a failure makes it dead.
    Times are taken from this machine's clock: machines sharing a database must keep
    their clocks in step (NTP), or leases and retries run early or late.
    """

    def __init__(self, url: str, *, tenant: str = "default", max_attempts: int = 8):
        if max_attempts < 1:
            raise StoreError(
                f"max_attempts is {max_attempts}; an event needs at least one attempt. "
                "Fix: give max_attempts of 1 or more"
            )
        self.tenant = tenant
        self.max_attempts = max_attempts
        self._engine = open_engine(url)
        self._writer = self._engine.execution_options(**WRITE)

    def migrate(self) -> None:
        """Create missing tables and indexes, drop retired ones; safe to repeat."""
        with self._answering(), self._writer.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Processes starting together must not race to create one table.
                connection.execute(text("SELECT pg_advisory_xact_lock(7417317)"))
            SQLModel.metadata.create_all(connection)
            # create_all passes over a table that exists, indexes and all, so an
            # index added since the database was made is created here. Checked
            # first: CREATE INDEX locks out writers even when the index exists.
            for table in SQLModel.metadata.sorted_tables:
                for index in table.indexes:
                    index.create(connection, checkfirst=True)
            for name in RETIRED_INDEXES:
                connection.execute(DropIndex(Index(name), if_exists=True))

    def close(self) -> None:
        """Close every pooled connection; the store is not used afterwards."""
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @contextmanager
    def _answering(self) -> Iterator[None]:
        try:
            yield
        except DBAPIError as exc:
            failure = store_failure(describe(self._engine), exc)
            if failure is None:
                raise
            raise failure from None

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        with (
            self._answering(),
            Session(self._writer, expire_on_commit=False) as session,
            session.begin(),
        ):
            yield session

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        with self._answering(), Session(self._engine) as session:
            yield session

    # --- intake -------------------------------------------------------------------

    def store_events(self, events: Sequence[InboundEvent]) -> list[int]:
        """Store a delivery's events in one transaction; answer the ids of new ones.

        An event whose ``delivery_id`` is already stored is skipped, also when
        another process stores it at the same moment.
        """
        if not events:
            return []
        with self._writing() as session:
            stored = add_events(session, self.tenant, events, _now())
        log.debug(
            "events.stored",
            extra={"received": len(events), "stored": len(stored)},
        )
        return stored

    # --- claiming and settling ----------------------------------------------------

    def claim(
        self, worker: str, *, limit: int, lease_seconds: float
    ) -> list[ClaimedEvent]:
        """Hand ``worker`` up to ``limit`` due events, leased for ``lease_seconds``.

        Due means pending with its next attempt time reached, or in progress under a
        lease that ran out. Only the oldest unfinished event of a key is handed out,
        so events of one key are applied one at a time, in the order received.
        ``worker`` must be unique to the claiming process.
        """
        if limit < 1 or lease_seconds <= 0:
            raise StoreError(
                f"claim got limit={limit} and lease_seconds={lease_seconds}; both must "
                "be positive. Fix: pass limit >= 1 and lease_seconds > 0"
            )
        now = _now()
        with self._writing() as session:
            claimed, buried = claim_events(
                session,
                self.tenant,
                worker,
                limit=limit,
                lease_seconds=lease_seconds,
                max_attempts=self.max_attempts,
                now=now,
            )
            for dead in buried:
                self._write_audit(
                    session,
                    [
                        AuditRecord(
                            action="event_dead",
                            target="caspira",
                            flow=dead.flow,
                            detail={"error": dead.error, "attempts": dead.attempts},
                        )
                    ],
                    dead.event_id,
                    now,
                )
        for dead in buried:
            log.error(
                "event.dead",
                extra={
                    "event_id": dead.event_id,
                    "attempts": dead.attempts,
                    "reason": "lease ran out on every attempt",
                },
            )
        if claimed:
            log.debug(
                "events.claimed",
                extra={"worker": worker, "events": [event.id for event in claimed]},
            )
        return claimed

    def complete(
        self,
        event_id: int,
        worker: str,
        *,
        links: Sequence[LinkUpdate] = (),
        audit: Sequence[AuditRecord] = (),
        field_sync: Sequence[FieldSyncUpdate] = (),
        comment_links: Sequence[CommentLink] = (),
    ) -> None:
        """Mark the event done and write its links, sync state and audit rows, all
        or nothing.

        Raises :class:`LeaseLost` when another worker has taken the event meanwhile.
        """
        now = _now()
        with self._writing() as session:
            event = held_event(session, self.tenant, event_id, worker)
            finish_attempt(session, event, state="done", outcome="done", now=now)
            # One order for every writer, so two transactions never deadlock on links.
            for link in sorted(links, key=lambda link: (link.flow, link.record_id)):
                self._upsert_link(session, link, now)
            write_field_sync(session, self.tenant, field_sync, now)
            write_comment_links(session, self.tenant, comment_links, now)
            self._write_audit(session, audit, event_id, now)

    def fail(
        self,
        event_id: int,
        worker: str,
        *,
        error: str,
        retry_in: float | None,
        audit: Sequence[AuditRecord] = (),
    ) -> EventState:
        """Record a failed attempt; answer the event's new state.

        With ``retry_in`` seconds the event is pending again after that delay, unless
        it has had ``max_attempts`` attempts; with ``None`` (not retryable) it is
        dead at once. The store adds an ``event_retry`` or ``event_dead`` audit row
        to ``audit``. Raises :class:`LeaseLost` when the event is no longer ours.
        """
        now = _now()
        with self._writing() as session:
            event = held_event(session, self.tenant, event_id, worker)
            attempts = event.attempts
            detail: dict[str, Any] = {"error": error, "attempt": attempts}
            if retry_in is None or attempts >= self.max_attempts:
                state: EventState = "dead"
                finish_attempt(
                    session, event, state="dead", outcome="dead", now=now, error=error
                )
                action = "event_dead"
            else:
                state = "pending"
                retry_at = now + timedelta(seconds=max(retry_in, 0.0))
                finish_attempt(
                    session,
                    event,
                    state="pending",
                    outcome="retry",
                    now=now,
                    error=error,
                )
                event.next_attempt_at = retry_at
                detail["retry_at"] = retry_at.isoformat()
                action = "event_retry"
            decision = AuditRecord(
                action=action, target="caspira", flow=event.flow, detail=detail
            )
            self._write_audit(session, [*audit, decision], event_id, now)

        # The worker reports retries and dead events to the operator; this is the
        # store's own trace of the decision.
        log.debug(
            "event.failed",
            extra={"event_id": event_id, "attempt": attempts, "state": state},
        )
        return state

    def release(self, event_id: int, worker: str) -> None:
        """Give back an event without an outcome (at shutdown); due again at once.

        The attempt is not counted against ``max_attempts``.
        """
        now = _now()
        with self._writing() as session:
            event = held_event(session, self.tenant, event_id, worker)
            finish_attempt(session, event, state="pending", outcome="released", now=now)
            event.attempts = max(event.attempts - 1, 0)
            event.next_attempt_at = now

    def extend_lease(self, event_id: int, worker: str, lease_seconds: float) -> None:
        """Keep holding the event for ``lease_seconds`` from now (long work)."""
        if lease_seconds <= 0:
            raise StoreError(
                f"extend_lease got lease_seconds={lease_seconds}. "
                "Fix: pass a positive number of seconds"
            )
        now = _now()
        with self._writing() as session:
            event = held_event(session, self.tenant, event_id, worker)
            event.lease_expires_at = now + timedelta(seconds=lease_seconds)
            event.updated_at = now

    # --- links --------------------------------------------------------------------

    def get_link(self, flow: str, record_id: str) -> Link | None:
        """The link of a flow's record, or ``None`` when the record has none."""
        with self._reading() as session:
            row = session.exec(
                select(IssueLink).where(
                    IssueLink.tenant == self.tenant,
                    IssueLink.flow == flow,
                    IssueLink.record_id == record_id,
                )
            ).first()
            return _link(row) if row is not None else None

    def link_by_issue(self, issue_key: str) -> Link | None:
        """The link that points at ``issue_key``, or ``None``."""
        with self._reading() as session:
            row = session.exec(
                select(IssueLink)
                .where(
                    IssueLink.tenant == self.tenant, IssueLink.issue_key == issue_key
                )
                .order_by(col(IssueLink.updated_at).desc())
            ).first()
            return _link(row) if row is not None else None

    def field_sync(self, flow: str, record_id: str) -> dict[str, FieldSync]:
        """The sync state of each synced field of a record, by field."""
        with self._reading() as session:
            return read_field_sync(session, self.tenant, flow, record_id)

    def comment_link(
        self,
        flow: str,
        *,
        jira_comment_id: str | None = None,
        caspio_comment_id: str | None = None,
    ) -> CommentLink | None:
        """The link of a comment already synced, found by either side's id."""
        if (jira_comment_id is None) == (caspio_comment_id is None):
            raise StoreError(
                "comment_link needs exactly one of jira_comment_id or caspio_comment_id"
            )
        with self._reading() as session:
            return find_comment_link(
                session,
                self.tenant,
                flow,
                jira_comment_id=jira_comment_id,
                caspio_comment_id=caspio_comment_id,
            )

    def begin_create(self, flow: str, record_id: str, idempotency_key: str) -> Link:
        """Commit the intent to create the record's issue before Jira is called.

        Answers the new ``creating`` link, or the link already stored (creating or
        linked) untouched, so a retry can tell that an earlier attempt got this far.
        """
        now = _now()
        with self._writing() as session:
            session.exec(
                insert_statement(session, IssueLink)
                .values(
                    tenant=self.tenant,
                    flow=flow,
                    record_id=record_id,
                    state="creating",
                    idempotency_key=idempotency_key,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=["tenant", "flow", "record_id"])
            )
            row = session.exec(
                select(IssueLink).where(
                    IssueLink.tenant == self.tenant,
                    IssueLink.flow == flow,
                    IssueLink.record_id == record_id,
                )
            ).one()
            return _link(row)

    def _upsert_link(self, session: Session, link: LinkUpdate, now: datetime) -> None:
        statement = insert_statement(session, IssueLink).values(
            tenant=self.tenant,
            flow=link.flow,
            record_id=link.record_id,
            issue_key=link.issue_key,
            issue_id=link.issue_id,
            state="linked",
            idempotency_key=link.idempotency_key,
            fingerprint=link.fingerprint,
            created_at=now,
            updated_at=now,
        )
        stored = IssueLink.__table__.c  # type: ignore[attr-defined]
        incoming = statement.excluded
        session.exec(
            statement.on_conflict_do_update(
                index_elements=["tenant", "flow", "record_id"],
                set_={
                    "issue_key": incoming.issue_key,
                    "issue_id": incoming.issue_id,
                    "state": "linked",
                    "idempotency_key": func.coalesce(
                        incoming.idempotency_key, stored.idempotency_key
                    ),
                    "fingerprint": func.coalesce(
                        incoming.fingerprint, stored.fingerprint
                    ),
                    "updated_at": incoming.updated_at,
                },
            )
        )

    # --- audit --------------------------------------------------------------------

    def add_audit(
        self, records: Sequence[AuditRecord], *, event_id: int | None = None
    ) -> None:
        """Write audit rows outside an event's completion (a failed notify, say)."""
        with self._writing() as session:
            self._write_audit(session, records, event_id, _now())

    def _write_audit(
        self,
        session: Session,
        records: Sequence[AuditRecord],
        event_id: int | None,
        now: datetime,
    ) -> None:
        for record in records:
            require_json(record.detail, f"audit detail of action {record.action!r}")
            session.exec(
                insert_statement(session, AuditEntry).values(
                    tenant=self.tenant,
                    at=now,
                    event_id=event_id,
                    flow=record.flow,
                    record_id=record.record_id,
                    issue_key=record.issue_key,
                    action=record.action,
                    target=record.target,
                    detail=record.detail,
                )
            )

    def audit(
        self,
        *,
        flow: str | None = None,
        record_id: str | None = None,
        limit: int = 100,
    ) -> list[AuditRow]:
        """Audit rows, newest first, of a flow or one of its records when given."""
        query = select(AuditEntry).where(AuditEntry.tenant == self.tenant)
        if flow is not None:
            query = query.where(AuditEntry.flow == flow)
        if record_id is not None:
            query = query.where(AuditEntry.record_id == record_id)
        with self._reading() as session:
            rows = session.exec(
                query.order_by(col(AuditEntry.id).desc()).limit(limit)
            ).all()
            return [AuditRow.model_validate(row, from_attributes=True) for row in rows]

    # --- inspection and operator actions ------------------------------------------

    def events(
        self,
        *,
        state: EventState | None = None,
        flow: str | None = None,
        older_than: datetime | timedelta | None = None,
        limit: int = 100,
    ) -> list[EventRow]:
        """Events, newest first, filtered by state, flow and age when given.

        ``older_than`` is a moment or an age; events received before it are listed.
        """
        query = select(InboxEvent).where(InboxEvent.tenant == self.tenant)
        if state is not None:
            query = query.where(InboxEvent.state == state)
        if flow is not None:
            query = query.where(InboxEvent.flow == flow)
        if older_than is not None:
            query = query.where(col(InboxEvent.received_at) < _moment(older_than))
        with self._reading() as session:
            rows = session.exec(
                query.order_by(col(InboxEvent.id).desc()).limit(limit)
            ).all()
            return [_event_row(row) for row in rows]

    def event(self, event_id: int) -> EventRow | None:
        """One event with its attempts, oldest attempt first; ``None`` if unknown."""
        with self._reading() as session:
            row = session.exec(
                select(InboxEvent).where(
                    InboxEvent.id == event_id, InboxEvent.tenant == self.tenant
                )
            ).first()
            if row is None:
                return None
            attempts = session.exec(
                select(InboxAttempt)
                .where(InboxAttempt.event_id == event_id)
                .order_by(col(InboxAttempt.number), col(InboxAttempt.id))
            ).all()
            log_rows = tuple(
                AttemptRow.model_validate(attempt, from_attributes=True)
                for attempt in attempts
            )
            return _event_row(row, log_rows)

    def retry_event(self, event_id: int) -> None:
        """Give a dead event a fresh set of attempts, due at once; audited."""
        now = _now()
        with self._writing() as session:
            event = self._operated(session, event_id)
            if event.state != "dead":
                raise EventStateError(event_id, "retry", event.state, "dead")
            event.state = "pending"
            event.attempts = 0
            event.next_attempt_at = now
            event.discarded_at = None
            event.updated_at = now
            self._write_audit(
                session,
                [
                    AuditRecord(
                        action="event_requeued",
                        target="caspira",
                        flow=event.flow,
                        detail={"last_error": event.last_error},
                    )
                ],
                event_id,
                now,
            )
        log.info("event.requeued", extra={"event_id": event_id})

    def discard_event(self, event_id: int) -> None:
        """Give up on an event that is not done: dead, marked discarded; audited.

        A worker holding it loses its lease and cannot complete it.
        """
        now = _now()
        with self._writing() as session:
            event = self._operated(session, event_id)
            if event.state == "done":
                raise EventStateError(
                    event_id, "discard", "done", "pending, in_progress or dead"
                )
            if event.discarded_at is not None:
                return
            if event.state == "in_progress":
                finish_attempt(
                    session,
                    event,
                    state="dead",
                    outcome="dead",
                    now=now,
                    error="discarded by an operator",
                )
            event.state = "dead"
            event.discarded_at = now
            event.updated_at = now
            self._write_audit(
                session,
                [
                    AuditRecord(
                        action="event_discarded",
                        target="caspira",
                        flow=event.flow,
                        detail={"last_error": event.last_error},
                    )
                ],
                event_id,
                now,
            )
        log.info("event.discarded", extra={"event_id": event_id})

    def _operated(self, session: Session, event_id: int) -> InboxEvent:
        event = session.exec(
            select(InboxEvent)
            .where(InboxEvent.id == event_id, InboxEvent.tenant == self.tenant)
            .with_for_update()
        ).first()
        if event is None:
            raise EventNotFound(event_id, self.tenant)
        return event

    def counts(self) -> dict[str, int]:
        """How many events are in each state (every state is present)."""
        with self._reading() as session:
            rows = session.exec(
                select(InboxEvent.state, func.count())
                .where(InboxEvent.tenant == self.tenant)
                .group_by(col(InboxEvent.state))
            ).all()
        counted = dict(rows)
        return {state: counted.get(state, 0) for state in _STATES}


def _moment(older_than: datetime | timedelta) -> datetime:
    if isinstance(older_than, timedelta):
        return _now() - older_than
    if older_than.tzinfo is None:
        raise StoreError(
            f"older_than {older_than.isoformat()} has no time zone. "
            "Fix: pass an aware datetime, such as datetime.now(UTC) - timedelta(...)"
        )
    return older_than


def _link(row: IssueLink) -> Link:
    return Link.model_validate(row, from_attributes=True)


def _event_row(
    row: InboxEvent, attempt_log: tuple[AttemptRow, ...] | None = None
) -> EventRow:
    values = {
        name: getattr(row, name)
        for name in EventRow.model_fields
        if name != "attempt_log"
    }
    return EventRow.model_validate({**values, "attempt_log": attempt_log})
