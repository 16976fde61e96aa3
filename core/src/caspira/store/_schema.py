"""The store's tables: the inbox and its attempts, record-issue links, the audit trail.

Every table carries ``tenant`` so one database can serve several tenants.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

__all__ = [
    "OPEN_STATES",
    "RETIRED_INDEXES",
    "AuditEntry",
    "CommentLinkRow",
    "FieldSyncRow",
    "InboxAttempt",
    "InboxEvent",
    "IssueLink",
    "UTCDateTime",
]


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime; kept naive (but UTC) in SQLite, which has no zones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; pass UTC time")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# SQLite only makes INTEGER PRIMARY KEY columns autoincrement.
_BigId = BigInteger().with_variant(Integer(), "sqlite")
_Json = JSON().with_variant(JSONB(), "postgresql")

#: The states of an unfinished event. Claims repeat the partial indexes' conditions
#: with these as literals, which SQLite needs before it uses such an index.
OPEN_STATES = ("pending", "in_progress")

# Partial indexes keep claiming fast however many finished events pile up.
_OPEN = text(f"state IN ({', '.join(repr(state) for state in OPEN_STATES)})")

# The second term is always true (the column is NOT NULL), and only the claim's
# walk states it. Until a table is analysed PostgreSQL takes every partial index
# for empty, and would use this one, scanning, for the per-key lookup too.
_CLAIMABLE = text(f"{_OPEN.text} AND next_attempt_at IS NOT NULL")

#: Indexes of earlier releases that no query uses any more; migrate() drops them.
RETIRED_INDEXES = ("ix_caspira_events_due", "ix_caspira_events_leased")


def _when(nullable: bool = False) -> Any:
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable))


class InboxEvent(SQLModel, table=True):
    """``caspira_events``: one unit of work, from intake until done or dead."""

    __tablename__ = "caspira_events"
    __table_args__ = (
        UniqueConstraint("tenant", "delivery_id", name="uq_caspira_events_delivery"),
        Index(
            "ix_caspira_events_open_key",
            "tenant",
            "key",
            "id",
            postgresql_where=_OPEN,
            sqlite_where=_OPEN,
        ),
        # Claims walk unfinished events in id order, oldest first.
        Index(
            "ix_caspira_events_claimable",
            "tenant",
            "id",
            postgresql_where=_CLAIMABLE,
            sqlite_where=_CLAIMABLE,
        ),
        Index("ix_caspira_events_state", "tenant", "state", "id"),
    )

    id: int | None = Field(
        default=None, sa_column=Column(_BigId, primary_key=True, autoincrement=True)
    )
    tenant: str
    source: str
    kind: str
    flow: str | None = None
    key: str
    delivery_id: str
    payload: dict[str, Any] = Field(sa_column=Column(_Json, nullable=False))
    state: str
    attempts: int = 0
    next_attempt_at: datetime = _when()
    lease_owner: str | None = None
    lease_expires_at: datetime | None = _when(nullable=True)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    discarded_at: datetime | None = _when(nullable=True)
    received_at: datetime = _when()
    updated_at: datetime = _when()


class InboxAttempt(SQLModel, table=True):
    """``caspira_event_attempts``: one claim of an event and how it ended."""

    __tablename__ = "caspira_event_attempts"
    __table_args__ = (Index("ix_caspira_event_attempts_event", "event_id", "number"),)

    id: int | None = Field(
        default=None, sa_column=Column(_BigId, primary_key=True, autoincrement=True)
    )
    event_id: int = Field(
        sa_column=Column(
            _BigId,
            ForeignKey("caspira_events.id", ondelete="CASCADE"),
            nullable=False,
        )
    )
    number: int
    worker: str
    started_at: datetime = _when()
    finished_at: datetime | None = _when(nullable=True)
    outcome: str | None = None
    error: str | None = Field(default=None, sa_column=Column(Text))


class IssueLink(SQLModel, table=True):
    """``caspira_links``: which Jira issue a flow's record became."""

    __tablename__ = "caspira_links"
    __table_args__ = (
        UniqueConstraint("tenant", "flow", "record_id", name="uq_caspira_links_record"),
        Index("ix_caspira_links_issue", "tenant", "issue_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant: str
    flow: str
    record_id: str
    issue_key: str | None = None
    issue_id: str | None = None
    state: str
    idempotency_key: str | None = None
    fingerprint: str | None = None
    created_at: datetime = _when()
    updated_at: datetime = _when()


class AuditEntry(SQLModel, table=True):
    """``caspira_audit``: what caspira did, to which record and issue, and why.

    ``event_id`` has no foreign key so the trail outlives purged events.
    """

    __tablename__ = "caspira_audit"
    __table_args__ = (
        Index("ix_caspira_audit_record", "tenant", "flow", "record_id", "id"),
        Index("ix_caspira_audit_tenant", "tenant", "id"),
    )

    id: int | None = Field(
        default=None, sa_column=Column(_BigId, primary_key=True, autoincrement=True)
    )
    tenant: str
    at: datetime = _when()
    event_id: int | None = Field(default=None, sa_column=Column(_BigId))
    flow: str | None = None
    record_id: str | None = None
    issue_key: str | None = None
    action: str
    target: str
    detail: dict[str, Any] = Field(sa_column=Column(_Json, nullable=False))


class FieldSyncRow(SQLModel, table=True):
    """``caspira_field_sync``: per record and synced field, what each side last said.

    ``value`` is the value both sides were last brought to (in Caspio's terms);
    ``caspio_at``/``jira_at`` the time of the newest change applied from each side;
    ``written_caspio``/``written_jira`` what caspira itself last wrote there, so the
    change coming back is recognised as an echo.
    """

    __tablename__ = "caspira_field_sync"
    __table_args__ = (
        UniqueConstraint(
            "tenant", "flow", "record_id", "field", name="uq_caspira_field_sync"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant: str
    flow: str
    record_id: str
    field: str
    value: str | None = Field(default=None, sa_column=Column(Text))
    caspio_at: datetime | None = _when(nullable=True)
    jira_at: datetime | None = _when(nullable=True)
    written_caspio: str | None = Field(default=None, sa_column=Column(Text))
    written_jira: str | None = Field(default=None, sa_column=Column(Text))
    updated_at: datetime = _when()


class CommentLinkRow(SQLModel, table=True):
    """``caspira_comment_links``: a comment and its copy on the other side."""

    __tablename__ = "caspira_comment_links"
    __table_args__ = (
        UniqueConstraint(
            "tenant", "flow", "jira_comment_id", name="uq_caspira_comment_jira"
        ),
        UniqueConstraint(
            "tenant", "flow", "caspio_comment_id", name="uq_caspira_comment_caspio"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    tenant: str
    flow: str
    record_id: str
    issue_key: str
    jira_comment_id: str
    caspio_comment_id: str
    origin: str
    created_at: datetime = _when()
