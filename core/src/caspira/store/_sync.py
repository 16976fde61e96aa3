"""Reading and writing the two-way sync state: per-field state and comment links."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, select

from caspira.store._models import CommentLink, FieldSync, FieldSyncUpdate
from caspira.store._schema import CommentLinkRow, FieldSyncRow

__all__ = [
    "find_comment_link",
    "read_field_sync",
    "write_comment_links",
    "write_field_sync",
]


def read_field_sync(
    session: Session, tenant: str, flow: str, record_id: str
) -> dict[str, FieldSync]:
    rows = session.exec(
        select(FieldSyncRow).where(
            FieldSyncRow.tenant == tenant,
            FieldSyncRow.flow == flow,
            FieldSyncRow.record_id == record_id,
        )
    ).all()
    return {
        row.field: FieldSync(
            field=row.field,
            value=row.value,
            caspio_at=row.caspio_at,
            jira_at=row.jira_at,
            written_caspio=row.written_caspio,
            written_jira=row.written_jira,
        )
        for row in rows
    }


def _later(stored: datetime | None, given: datetime | None) -> datetime | None:
    if stored is None or given is None:
        return given or stored
    return max(stored, given)


def write_field_sync(
    session: Session, tenant: str, updates: Sequence[FieldSyncUpdate], now: datetime
) -> None:
    # Events of one record are applied one at a time, so read-then-write is safe.
    for update in sorted(updates, key=lambda u: (u.flow, u.record_id, u.field)):
        row = session.exec(
            select(FieldSyncRow).where(
                FieldSyncRow.tenant == tenant,
                FieldSyncRow.flow == update.flow,
                FieldSyncRow.record_id == update.record_id,
                FieldSyncRow.field == update.field,
            )
        ).first()
        if row is None:
            row = FieldSyncRow(
                tenant=tenant,
                flow=update.flow,
                record_id=update.record_id,
                field=update.field,
                updated_at=now,
            )
        row.value = update.value
        row.caspio_at = _later(row.caspio_at, update.caspio_at)
        row.jira_at = _later(row.jira_at, update.jira_at)
        if update.written_caspio is not None:
            row.written_caspio = update.written_caspio
        if update.written_jira is not None:
            row.written_jira = update.written_jira
        row.updated_at = now
        session.add(row)


def write_comment_links(
    session: Session, tenant: str, links: Sequence[CommentLink], now: datetime
) -> None:
    for link in links:
        session.add(
            CommentLinkRow(
                tenant=tenant,
                flow=link.flow,
                record_id=link.record_id,
                issue_key=link.issue_key,
                jira_comment_id=link.jira_comment_id,
                caspio_comment_id=link.caspio_comment_id,
                origin=link.origin,
                created_at=now,
            )
        )


def find_comment_link(
    session: Session,
    tenant: str,
    flow: str,
    *,
    jira_comment_id: str | None,
    caspio_comment_id: str | None,
) -> CommentLink | None:
    query = select(CommentLinkRow).where(
        CommentLinkRow.tenant == tenant, CommentLinkRow.flow == flow
    )
    if jira_comment_id is not None:
        query = query.where(CommentLinkRow.jira_comment_id == jira_comment_id)
    else:
        query = query.where(CommentLinkRow.caspio_comment_id == caspio_comment_id)
    row = session.exec(query).first()
    if row is None:
        return None
    return CommentLink(
        flow=row.flow,
        record_id=row.record_id,
        issue_key=row.issue_key,
        jira_comment_id=row.jira_comment_id,
        caspio_comment_id=row.caspio_comment_id,
        origin=row.origin,  # type: ignore[arg-type]
    )
