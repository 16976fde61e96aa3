"""The way back: Jira changes and comments reach the linked Caspio record.

Changes caspira made itself are recognised by the account that made them and by
the values it last wrote; stale and crossing changes are settled per field by
:func:`caspira.conflicts.decide` and the flow's conflict policy.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from caspira.conflicts import decide
from caspira.hookcall import call_each, call_first
from caspira.outcome import Outcome, conflict_audit
from caspira.store import (
    AuditRecord,
    ClaimedEvent,
    CommentLink,
    FieldSyncUpdate,
    Link,
)
from caspira_hookspecs import (
    FieldChange,
    Flow,
    IssueChange,
    IssueComment,
    IssueRef,
    IssueTransition,
    Notification,
    RetryableError,
    User,
)

if TYPE_CHECKING:
    from caspira.engine import Engine

__all__ = ["BackSync", "same_user"]

log = logging.getLogger(__name__)

#: Jira fields whose changelog ``to`` is an account (id on Cloud, name on Server).
_USER_FIELDS = {"assignee", "reporter"}


def same_user(one: User | None, other: User | None) -> bool:
    """Whether two descriptions name the same Jira account."""
    if one is None or other is None:
        return False
    if one.account_id and other.account_id:
        return one.account_id == other.account_id
    if one.name and other.name:
        return one.name == other.name
    return bool(one.email and other.email and one.email.lower() == other.email.lower())


class BackSync:
    """Applies ``issue_changed`` and ``comment_changed`` events; one per engine."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.hook = engine.plugins.pm.hook
        self._acting: dict[str, User | None] = {}

    async def acting_user(self, flow: Flow) -> User | None:
        """The account caspira acts as in Jira, asked once per flow."""
        if flow.name not in self._acting:
            self._acting[flow.name] = await call_first(self.hook.acting_user, flow=flow)
        return self._acting[flow.name]

    async def _linked(
        self, issue: IssueRef, outcome: Outcome
    ) -> tuple[Flow, Link] | None:
        link = await anyio.to_thread.run_sync(
            self.engine.store.link_by_issue, issue.key
        )
        flow = self.engine.config.flows.get(link.flow) if link else None
        if link is None or flow is None:
            outcome.audit.append(
                AuditRecord(
                    action="skipped",
                    target="caspira",
                    issue_key=issue.key,
                    detail={
                        "reason": "the issue is not linked to a record of any flow"
                    },
                )
            )
            return None
        return flow, link

    # --- issue changes ----------------------------------------------------------------

    async def issue_changed(self, event: ClaimedEvent) -> Outcome:
        outcome = Outcome()
        change = IssueChange.model_validate(event.payload)
        linked = await self._linked(change.issue, outcome)
        if linked is None:
            return outcome
        flow, link = linked
        record_id = link.record_id

        def audit(action: str, **detail: Any) -> None:
            outcome.audit.append(
                AuditRecord(
                    action=action,
                    target="caspira",
                    flow=flow.name,
                    record_id=record_id,
                    issue_key=change.issue.key,
                    detail=detail,
                )
            )

        if change.event == "deleted":
            audit("skipped", reason="the issue was deleted in Jira; the record is kept")
            return outcome
        if same_user(change.actor, await self.acting_user(flow)):
            audit("echo", reason="made by caspira's own Jira account")
            return outcome

        states = await anyio.to_thread.run_sync(
            self.engine.store.field_sync, flow.name, record_id
        )
        values: dict[str, Any] = {}
        transition: IssueTransition | None = None
        for item in change.changes:
            target = self._caspio_side(flow, item)
            if target is None:
                continue
            caspio_field, value, skip_reason = target
            if skip_reason:
                audit("skipped", field=item.field_id, reason=skip_reason)
                continue
            decision = decide(
                side="jira",
                value=value,
                at=change.occurred_at,
                state=states.get(item.field_id),
                policy=flow.conflict_policy,
            )
            if decision.audited:
                outcome.audit.append(
                    conflict_audit(
                        decision, flow, record_id, item.field_id, states, value
                    ).model_copy(update={"issue_key": change.issue.key})
                )
            if not decision.applies:
                continue
            values[caspio_field] = value
            outcome.field_sync.append(
                FieldSyncUpdate(
                    flow=flow.name,
                    record_id=record_id,
                    field=item.field_id,
                    value=value,
                    jira_at=change.occurred_at,
                    written_caspio=value if value is not None else "",
                )
            )
            if item.field_id == "status":
                transition = IssueTransition(
                    issue=change.issue,
                    from_status=item.from_text,
                    to_status=item.to_text or "",
                    actor=change.actor,
                    occurred_at=change.occurred_at,
                )

        if values:
            await call_first(
                self.hook.write_record, flow=flow, record_id=record_id, values=values
            )
            audit("record_written", fields=sorted(values))
            log.info(
                "record.written",
                extra={
                    "flow": flow.name,
                    "record": record_id,
                    "issue": change.issue.key,
                },
            )
        if transition is not None:
            await call_each(
                self.hook.on_issue_transitioned,
                transition=transition,
                flow=flow,
                record_id=record_id,
            )
            outcome.notifications.append(
                Notification(
                    flow=flow.name,
                    kind="issue_transitioned",
                    title=f"{change.issue.key} moved to {transition.to_status}",
                    text=f"Record {record_id} now shows "
                    f"{flow.status_field} = {values.get(flow.status_field or '')}.",
                    issue=change.issue,
                    record_id=record_id,
                )
            )
        return outcome

    def _caspio_side(
        self, flow: Flow, item: FieldChange
    ) -> tuple[str, str | None, str | None] | None:
        """(Caspio field, value, reason to skip) for a changelog item, or None when
        the flow does not sync that Jira field back."""
        if item.field_id == "status":
            if not flow.status_field:
                return None
            mapped = flow.status_map.get(item.to_text or "")
            if mapped is None:
                return (
                    flow.status_field,
                    None,
                    f"Jira status {item.to_text!r} is not in flows.{flow.name}."
                    "status_map; the record's status is left as it is",
                )
            return flow.status_field, mapped, None

        rule = flow.from_jira.get(item.field_id) or flow.from_jira.get(item.field or "")
        if rule is None:
            return None
        if item.field_id in _USER_FIELDS:
            chosen = (
                item.to_id if rule.user_as in ("account_id", "name") else item.to_text
            )
            return rule.to, chosen, None
        if item.to_text is None:
            return rule.to, None, None
        table = rule.values if rule.values is not None else _inverse(flow, rule.to)
        if table is None:
            return rule.to, item.to_text, None
        if item.to_text not in table:
            return (
                rule.to,
                None,
                f"Jira value {item.to_text!r} of {item.field_id} has no Caspio value; "
                f"add it to flows.{flow.name}.from_jira.{item.field_id}.values",
            )
        return rule.to, str(table[item.to_text]), None

    # --- comments ---------------------------------------------------------------------

    async def comment_changed(self, event: ClaimedEvent) -> Outcome:
        outcome = Outcome()
        comment = IssueComment.model_validate(event.payload)
        if comment.source == "jira":
            await self._jira_comment(comment, outcome)
        else:
            await self._caspio_comment(comment, event.flow, outcome)
        return outcome

    async def _jira_comment(self, comment: IssueComment, outcome: Outcome) -> None:
        assert comment.issue is not None
        linked = await self._linked(comment.issue, outcome)
        if linked is None:
            return
        flow, link = linked
        reason = await self._comment_skip(flow, comment, jira_id=comment.comment_id)
        if reason is None and same_user(comment.author, await self.acting_user(flow)):
            reason = "written by caspira's own Jira account"
        if reason is None and flow.comments is None:
            reason = f"flows.{flow.name}.comments is not configured"
        if reason:
            outcome.audit.append(_comment_audit("skipped", flow, link, reason=reason))
            return

        caspio_id = await call_first(
            self.hook.add_record_comment,
            comment=comment,
            flow=flow,
            record_id=link.record_id,
        )
        if caspio_id is None:
            return
        outcome.comment_links.append(
            CommentLink(
                flow=flow.name,
                record_id=link.record_id,
                issue_key=comment.issue.key,
                jira_comment_id=comment.comment_id,
                caspio_comment_id=str(caspio_id),
                origin="jira",
            )
        )
        outcome.audit.append(
            _comment_audit("comment_copied", flow, link, target="caspio", to=caspio_id)
        )
        await call_each(self.hook.on_comment_added, comment=comment, flow=flow)

    async def _caspio_comment(
        self, comment: IssueComment, flow_name: str | None, outcome: Outcome
    ) -> None:
        flow = self.engine.config.flows.get(flow_name or "")
        if flow is None or comment.record_id is None:
            return
        link = await anyio.to_thread.run_sync(
            self.engine.store.get_link, flow.name, comment.record_id
        )
        if link is None or link.state != "linked" or not link.issue_key:
            # The record's own events come first in its queue; if its issue is not
            # there yet, its creation failed or is being retried: wait for it.
            raise RetryableError(
                "caspira",
                "copy comment",
                None,
                f"record {comment.record_id} of flow {flow.name} has no Jira issue "
                "yet; the comment is copied once it has one",
            )
        reason = await self._comment_skip(flow, comment, caspio_id=comment.comment_id)
        if reason:
            outcome.audit.append(_comment_audit("skipped", flow, link, reason=reason))
            return

        issue = IssueRef(key=link.issue_key, id=link.issue_id or "")
        author = comment.author.display_name if comment.author else None
        body = f"{author} wrote in Caspio:\n{comment.body}" if author else comment.body
        jira_id = await call_first(
            self.hook.add_issue_comment,
            issue=issue,
            comment=comment.model_copy(update={"body": body, "issue": issue}),
            flow=flow,
        )
        if jira_id is None:
            return
        outcome.comment_links.append(
            CommentLink(
                flow=flow.name,
                record_id=link.record_id,
                issue_key=link.issue_key,
                jira_comment_id=str(jira_id),
                caspio_comment_id=comment.comment_id,
                origin="caspio",
            )
        )
        outcome.audit.append(
            _comment_audit("comment_copied", flow, link, target="jira", to=jira_id)
        )
        await call_each(self.hook.on_comment_added, comment=comment, flow=flow)

    async def _comment_skip(
        self,
        flow: Flow,
        comment: IssueComment,
        *,
        jira_id: str | None = None,
        caspio_id: str | None = None,
    ) -> str | None:
        if comment.event != "created":
            return f"comment {comment.event} events are not synced; only new comments"
        known = await anyio.to_thread.run_sync(
            lambda: self.engine.store.comment_link(
                flow.name, jira_comment_id=jira_id, caspio_comment_id=caspio_id
            )
        )
        if known is not None:
            return f"already synced (origin {known.origin})"
        return None


def _inverse(flow: Flow, caspio_field: str) -> dict[str, Any] | None:
    """The forward rule's value map for ``caspio_field``, turned around."""
    for rule in flow.fields.values():
        if rule.source == caspio_field and rule.values:
            inverse: dict[str, Any] = {}
            for caspio_value, jira_value in rule.values.items():
                inverse.setdefault(str(jira_value), caspio_value)
            return inverse
    return None


def _comment_audit(
    action: str, flow: Flow, link: Link, *, target: str = "caspira", **detail: Any
) -> AuditRecord:
    return AuditRecord(
        action=action,
        target=target,  # type: ignore[arg-type]
        flow=flow.name,
        record_id=link.record_id,
        issue_key=link.issue_key,
        detail=detail,
    )
