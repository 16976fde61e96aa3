"""What processing one event led to, committed by the worker in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from caspira.conflicts import Decision
from caspira.store import (
    AuditRecord,
    CommentLink,
    FieldSync,
    FieldSyncUpdate,
    LinkUpdate,
)
from caspira_hookspecs import Flow, Notification

__all__ = ["Outcome", "conflict_audit"]


@dataclass
class Outcome:
    """What an event led to, committed by the worker in one transaction."""

    links: list[LinkUpdate] = field(default_factory=list)
    audit: list[AuditRecord] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    field_sync: list[FieldSyncUpdate] = field(default_factory=list)
    comment_links: list[CommentLink] = field(default_factory=list)


def conflict_audit(
    decision: Decision,
    flow: Flow,
    record_id: str,
    field_name: str,
    states: dict[str, FieldSync],
    incoming: str | None,
) -> AuditRecord:
    """The audit row of a change not applied, with both sides' values and times."""
    state = states.get(field_name)
    return AuditRecord(
        action="conflict" if decision.is_conflict else decision.verdict,
        target="caspira",
        flow=flow.name,
        record_id=record_id,
        detail={
            "field": field_name,
            "verdict": decision.verdict,
            "incoming_from": decision.side,
            "reason": decision.reason,
            "policy": flow.conflict_policy,
            "incoming": incoming,
            "kept": state.value if state else None,
            "caspio_at": state.caspio_at.isoformat()
            if state and state.caspio_at
            else None,
            "jira_at": state.jira_at.isoformat() if state and state.jira_at else None,
        },
    )


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None
