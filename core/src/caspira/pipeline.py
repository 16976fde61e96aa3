"""The fixed order of hook calls that turns one stored event into its effects.

The pipeline decides and calls out; it never commits. It answers an
:class:`Outcome` (link rows, audit rows, notifications) that the worker commits
together with the event's completion.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from caspira.backsync import BackSync
from caspira.conflicts import as_text, decide
from caspira.hookcall import call_chain, call_each, call_first
from caspira.outcome import Outcome, conflict_audit
from caspira.store import (
    AuditRecord,
    ClaimedEvent,
    FieldSync,
    FieldSyncUpdate,
    LinkUpdate,
)
from caspira_hookspecs import (
    CreatedIssue,
    Flow,
    IssueDraft,
    IssueRef,
    MappingError,
    Notification,
    RecordChange,
    Route,
    Skip,
    User,
)

if TYPE_CHECKING:
    from caspira.engine import Engine

__all__ = [
    "RECORD_STATE",
    "Pipeline",
    "fingerprint",
    "idempotency_key",
    "jira_status_for",
]

#: The sync-state entry that keeps the time of a record's newest applied change.
RECORD_STATE = "(record)"

log = logging.getLogger(__name__)


def idempotency_key(tenant: str, flow: str, record_id: str) -> str:
    """A short, stable key for one record of one flow of one tenant."""
    digest = hashlib.sha256(f"{tenant}\x1f{flow}\x1f{record_id}".encode()).hexdigest()
    return digest[:24]


def fingerprint(draft: IssueDraft) -> str:
    """A hash of everything a draft would send, to tell a real change from an echo."""
    sent = draft.model_dump(mode="json", exclude={"idempotency_key"})
    encoded = json.dumps(sent, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


class Pipeline:
    """Runs the hooks for one event at a time; one instance per engine."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.hook = engine.plugins.pm.hook
        self.back = BackSync(engine)

    async def process(self, event: ClaimedEvent) -> Outcome:
        if event.kind == "record_changed":
            return await self._record_changed(event)
        if event.kind == "issue_changed":
            return await self.back.issue_changed(event)
        if event.kind == "comment_changed":
            return await self.back.comment_changed(event)
        raise MappingError(
            str(event.id),
            "kind",
            f"no pipeline handles events of kind {event.kind!r}",
            "discard the event (caspira events discard ID) or install the plugin "
            "that produced it",
        )

    def _flow(self, name: str | None, record_id: str) -> Flow:
        flow = self.engine.config.flows.get(name or "")
        if flow is None:
            raise MappingError(
                record_id,
                "flow",
                f"the flow {name!r} is not configured any more",
                "restore the flow in the configuration, or discard the event",
            )
        return flow

    async def _record_changed(self, event: ClaimedEvent) -> Outcome:
        outcome = Outcome()
        change = RecordChange.model_validate(event.payload)
        flow = self._flow(change.flow, change.record_id)

        if change.operation == "delete":
            outcome.audit.append(
                _audit("skipped", change, detail={"reason": "record deleted in Caspio"})
            )
            return outcome

        result = await call_chain(
            self.hook.on_record_changed, "change", change, flow=flow
        )
        if isinstance(result, Skip):
            outcome.audit.append(
                _audit("skipped", change, detail={"reason": result.reason})
            )
            return outcome
        change = result

        store = self.engine.store
        states = await anyio.to_thread.run_sync(
            store.field_sync, flow.name, change.record_id
        )
        if self._stale(change, flow, states, outcome):
            return outcome

        route = await call_first(self.hook.route_record, change=change, flow=flow)
        route = route or Route(project=flow.project, issue_type=flow.issue_type)
        draft: IssueDraft = await call_first(
            self.hook.map_fields, change=change, flow=flow, route=route
        )
        draft = draft.model_copy(
            update={
                "idempotency_key": idempotency_key(
                    self.engine.config.tenant, flow.name, change.record_id
                )
            }
        )
        draft = await call_chain(
            self.hook.redact_issue, "draft", draft, change=change, flow=flow
        )
        draft = await self._assign(draft, flow)

        link = await anyio.to_thread.run_sync(
            store.get_link, flow.name, change.record_id
        )
        draft = self._settle_synced_fields(change, flow, draft, states, outcome)
        digest = fingerprint(draft)

        if link is not None and link.state == "linked" and link.issue_key:
            issue = IssueRef(key=link.issue_key, id=link.issue_id or "", url=None)
            created = False
            if link.fingerprint == digest:
                outcome.audit.append(
                    _audit(
                        "unchanged",
                        change,
                        issue=issue,
                        target="caspira",
                        detail={"reason": "mapped values equal what was last sent"},
                    )
                )
            else:
                answered = await call_first(
                    self.hook.update_issue, issue=issue, draft=draft, flow=flow
                )
                issue = answered or issue
                outcome.audit.append(_audit("issue_updated", change, issue=issue))
                outcome.notifications.append(_notice("issue_updated", draft, issue))
                log.info(
                    "issue.updated",
                    extra={
                        "flow": flow.name,
                        "record": change.record_id,
                        "issue": issue.key,
                    },
                )
        else:
            issue, created = await self._create(draft, flow, change, link, outcome)

        outcome.links.append(
            LinkUpdate(
                flow=flow.name,
                record_id=change.record_id,
                issue_key=issue.key,
                issue_id=issue.id,
                fingerprint=digest,
                idempotency_key=draft.idempotency_key,
            )
        )
        await call_each(
            self.hook.on_issue_linked,
            change=change,
            issue=issue,
            flow=flow,
            created=created,
        )
        await self._sync_status(change, flow, issue, states, outcome, created)
        return outcome

    def _stale(
        self,
        change: RecordChange,
        flow: Flow,
        states: dict[str, FieldSync],
        outcome: Outcome,
    ) -> bool:
        """Whether a newer change of this record was already applied (Caspio does
        not deliver in order); if not, remember this change's time."""
        newest = states.get(RECORD_STATE)
        at = change.occurred_at
        if at is not None and newest and newest.caspio_at and at < newest.caspio_at:
            outcome.audit.append(
                _audit(
                    "stale",
                    change,
                    detail={
                        "reason": "a newer change of the record was already applied",
                        "changed_at": at.isoformat(),
                        "applied_at": newest.caspio_at.isoformat(),
                    },
                )
            )
            return True
        outcome.field_sync.append(
            FieldSyncUpdate(
                flow=flow.name,
                record_id=change.record_id,
                field=RECORD_STATE,
                value=None,
                caspio_at=at,
            )
        )
        return False

    def _settle_synced_fields(
        self,
        change: RecordChange,
        flow: Flow,
        draft: IssueDraft,
        states: dict[str, FieldSync],
        outcome: Outcome,
    ) -> IssueDraft:
        """Record Caspio's side of two-way fields; leave out those that lose."""
        dropped = []
        for jira_field, rule in flow.from_jira.items():
            if rule.to not in change.values:
                continue
            value = as_text(change.values[rule.to])
            decision = decide(
                side="caspio",
                value=value,
                at=change.occurred_at,
                state=states.get(jira_field),
                policy=flow.conflict_policy,
            )
            if decision.audited:
                outcome.audit.append(
                    conflict_audit(
                        decision, flow, change.record_id, jira_field, states, value
                    )
                )
            if decision.applies:
                outcome.field_sync.append(
                    FieldSyncUpdate(
                        flow=flow.name,
                        record_id=change.record_id,
                        field=jira_field,
                        value=value,
                        caspio_at=change.occurred_at,
                    )
                )
            elif decision.verdict != "unchanged":
                dropped.append(jira_field)
        if not dropped:
            return draft
        fields = {k: v for k, v in draft.fields.items() if k not in dropped}
        return draft.model_copy(update={"fields": fields})

    async def _sync_status(
        self,
        change: RecordChange,
        flow: Flow,
        issue: IssueRef,
        states: dict[str, FieldSync],
        outcome: Outcome,
        created: bool,
    ) -> None:
        """A status changed in Caspio moves the issue through its workflow."""
        if not flow.status_field or flow.status_field not in change.values:
            return
        value = as_text(change.values[flow.status_field])
        state = states.get("status")
        remember = FieldSyncUpdate(
            flow=flow.name,
            record_id=change.record_id,
            field="status",
            value=value,
            caspio_at=change.occurred_at,
        )
        if created or state is None:
            # A new issue starts in its workflow's first status; only later changes
            # of the record's status are asked of Jira.
            outcome.field_sync.append(remember)
            return
        decision = decide(
            side="caspio",
            value=value,
            at=change.occurred_at,
            state=state,
            policy=flow.conflict_policy,
        )
        if decision.audited:
            outcome.audit.append(
                conflict_audit(
                    decision, flow, change.record_id, "status", states, value
                )
            )
        if not decision.applies:
            return
        target = jira_status_for(flow, value)
        if target is None:
            outcome.audit.append(
                _audit(
                    "skipped",
                    change,
                    issue=issue,
                    detail={
                        "reason": f"no Jira status maps to {flow.status_field}="
                        f"{value!r}; add it to flows.{flow.name}.status_map"
                    },
                )
            )
            outcome.field_sync.append(remember)
            return
        reached = await call_first(
            self.hook.transition_issue,
            issue=issue,
            status=target,
            flow=flow,
            fields=flow.transition_fields.get(target, {}),
        )
        outcome.field_sync.append(
            remember.model_copy(update={"written_jira": reached or target})
        )
        outcome.audit.append(
            _audit(
                "issue_transitioned",
                change,
                issue=issue,
                detail={"to": reached or target, "from_caspio": value},
            )
        )

    async def _create(
        self,
        draft: IssueDraft,
        flow: Flow,
        change: RecordChange,
        link: Any,
        outcome: Outcome,
    ) -> tuple[IssueRef, bool]:
        store = self.engine.store
        interrupted = link is not None and link.state == "creating"
        if not interrupted:
            # The intent is committed before Jira is called, so a crash after Jira
            # answered is recognised on the retry and the issue is looked for first.
            await anyio.to_thread.run_sync(
                store.begin_create, flow.name, change.record_id, draft.idempotency_key
            )

        if interrupted:
            found = await call_first(self.hook.find_issue, draft=draft, flow=flow)
            if found is not None:
                outcome.audit.append(
                    _audit(
                        "issue_adopted",
                        change,
                        issue=found,
                        detail={"reason": "an earlier attempt had created it"},
                    )
                )
                log.info(
                    "issue.adopted",
                    extra={
                        "flow": flow.name,
                        "record": change.record_id,
                        "issue": found.key,
                    },
                )
                return found, False

        answer: CreatedIssue | None = await call_first(
            self.hook.create_issue, draft=draft, flow=flow
        )
        if answer is None:
            raise MappingError(
                change.record_id,
                "issue",
                "no plugin created the issue",
                "install and configure a plugin that implements create_issue "
                "(caspira-jira)",
            )
        issue = answer.issue
        outcome.audit.append(
            _audit(
                "issue_created",
                change,
                issue=issue,
                detail={"project": draft.project, "issue_type": draft.issue_type},
            )
        )
        outcome.notifications.append(_notice("issue_created", draft, issue))
        log.info(
            "issue.created",
            extra={"flow": flow.name, "record": change.record_id, "issue": issue.key},
        )
        return issue, True

    async def _assign(self, draft: IssueDraft, flow: Flow) -> IssueDraft:
        if draft.assignee is not None:
            return draft
        user: User | None = None
        if draft.assignee_email:
            user = await call_first(
                self.hook.resolve_user, email=draft.assignee_email, flow=flow
            )
        if user is None and flow.default_assignee:
            user = await call_first(
                self.hook.resolve_user, email=flow.default_assignee, flow=flow
            )
        if user is None:
            return draft
        return draft.model_copy(update={"assignee": user})


def jira_status_for(flow: Flow, caspio_value: str | None) -> str | None:
    """The Jira status a Caspio status value stands for: the first that maps to it."""
    for jira_status, mapped in flow.status_map.items():
        if mapped == caspio_value:
            return jira_status
    return None


def _audit(
    action: str,
    change: RecordChange,
    *,
    issue: IssueRef | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditRecord:
    return AuditRecord(
        action=action,
        target=target or ("jira" if issue else "caspira"),
        flow=change.flow,
        record_id=change.record_id,
        issue_key=issue.key if issue else None,
        detail=detail or {},
    )


def _notice(kind: str, draft: IssueDraft, issue: IssueRef) -> Notification:
    verb = "created" if kind == "issue_created" else "updated"
    return Notification(
        flow=draft.flow,
        kind=kind,  # type: ignore[arg-type]
        title=f"{issue.key} {verb}: {draft.summary}",
        text=f"From record {draft.record_id} of flow {draft.flow}.",
        issue=issue,
        record_id=draft.record_id,
    )
