"""Whether a change to a synced field should be applied, given what each side said.

Pure decisions, no I/O: the pipeline asks, applies, and audits the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from caspira.mapping import record_value
from caspira.store import FieldSync

__all__ = ["Decision", "as_text", "decide"]

Side = Literal["caspio", "jira"]
Policy = Literal["caspio_wins", "jira_wins", "latest"]
Verdict = Literal["apply", "unchanged", "stale", "conflict_won", "conflict_lost"]


@dataclass(frozen=True)
class Decision:
    """What to do with a change, and for conflicts the other side's time."""

    verdict: Verdict
    reason: str
    side: Side

    @property
    def applies(self) -> bool:
        return self.verdict in ("apply", "conflict_won")

    @property
    def is_conflict(self) -> bool:
        return self.verdict.startswith("conflict")

    @property
    def audited(self) -> bool:
        """Stale changes and every conflict, won or lost, go to the audit trail."""
        return self.verdict in ("stale", "conflict_won", "conflict_lost")


def decide(
    *,
    side: Side,
    value: str | None,
    at: datetime | None,
    state: FieldSync | None,
    policy: Policy,
) -> Decision:
    """Decide on a change of one field made on ``side`` at ``at`` to ``value``.

    - The value the field already has is ``unchanged`` (this covers caspira's own
      writes coming back).
    - A change older than the newest one already applied from the same side is
      ``stale``: deliveries arrive late and out of order.
    - A change older than one already applied from the other side is a conflict,
      both sides having changed the field since it was last synced; the policy
      picks the winner (``latest``: the newer change, which is the other side's).
    """
    if state is None:
        return Decision("apply", "first change seen for this field", side)
    if value == state.value:
        return Decision("unchanged", "the field already has this value", side)

    own_at, other_at = (
        (state.caspio_at, state.jira_at)
        if side == "caspio"
        else (state.jira_at, state.caspio_at)
    )
    if at is not None and own_at is not None and at < own_at:
        reason = f"a newer {side} change ({own_at.isoformat()}) was applied"
        return Decision("stale", reason, side)
    if at is not None and other_at is not None and at < other_at:
        other = "jira" if side == "caspio" else "caspio"
        won = policy == f"{side}_wins"
        reason = (
            f"{other} changed the field at {other_at.isoformat()}, after this change; "
            f"conflict policy {policy!r}"
        )
        return Decision("conflict_won" if won else "conflict_lost", reason, side)
    return Decision("apply", "newer than anything applied for this field", side)


def as_text(value: Any) -> str | None:
    """A field value as the sync state keeps it: text, lists joined, empty as None."""
    value = record_value(value)
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)
