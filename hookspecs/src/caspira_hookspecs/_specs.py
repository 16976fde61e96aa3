"""The hook specifications, grouped by phase in the order the engine calls them.

How hooks are called
--------------------
Implementations may be plain functions or ``async def`` coroutines; the engine
awaits whatever an implementation returns when it is awaitable. Because of that
the engine calls the implementations itself, one after another, in pluggy's order
(``tryfirst`` ones first, then the most recently registered first, ``trylast``
ones last), with these three disciplines, named in each hook's docstring:

* **first answer**: the first implementation that returns something other than
  ``None`` decides; the rest are not called.
* **each**: every implementation is called; their answers are collected.
* **chain**: every implementation is called with the value the previous one
  returned (``None`` means "keep it as it is").

Hook wrappers (``hookwrapper=True`` / ``wrapper=True``) are not supported.
An implementation may declare only the arguments it needs.
"""

from __future__ import annotations

from typing import Any

import pluggy

from caspira_hookspecs._models import (
    CreatedIssue,
    Flow,
    IssueComment,
    IssueDraft,
    IssueRef,
    IssueTransition,
    Notification,
    RecordChange,
    Route,
    Skip,
    User,
    WebhookRoute,
)

PROJECT_NAME = "caspira"

_hookspec = pluggy.HookspecMarker(PROJECT_NAME)

__all__ = [
    "create_issue",
    "find_issue",
    "map_fields",
    "notify",
    "on_comment_added",
    "on_issue_linked",
    "on_issue_transitioned",
    "on_record_changed",
    "redact_issue",
    "resolve_user",
    "route_record",
    "transition_issue",
    "update_issue",
    "webhook_routes",
    "write_record",
]


# --- Intake -------------------------------------------------------------------


@_hookspec
def webhook_routes() -> list[WebhookRoute]:
    """Webhook endpoints this plugin adds to the daemon.

    Called **each**, once when the daemon starts. The daemon stores the events a
    route's handler returns, in one transaction, before it answers the sender;
    duplicates (same ``delivery_id``) are stored once.
    """


# --- From a Caspio record to a Jira issue ----------------------------------------


@_hookspec
def on_record_changed(change: RecordChange, flow: Flow) -> RecordChange | Skip | None:
    """A record changed in a flow's source table: filter it or enrich it.

    Called as a **chain**, first in the pipeline. Return ``None`` to let the change
    pass as it is, a new :class:`RecordChange` (a copy with other ``values``) to
    enrich it, or :class:`Skip` to stop it here; a skip is written to the audit trail
    with its reason.
    """


@_hookspec(firstresult=True)
def route_record(change: RecordChange, flow: Flow) -> Route | None:
    """Choose the Jira project and issue type for a change.

    **First answer** wins; with no answer the flow's ``project`` and ``issue_type``
    are used.
    """


@_hookspec(firstresult=True)
def map_fields(change: RecordChange, flow: Flow, route: Route) -> IssueDraft | None:
    """Turn a record into an :class:`IssueDraft`.

    **First answer** wins. The engine's own implementation runs last and applies the
    flow's ``fields`` rules; a plugin answers only for flows it knows better. Raise
    :class:`~caspira_hookspecs.MappingError` for a record that cannot be mapped.
    """


@_hookspec
def redact_issue(
    draft: IssueDraft, change: RecordChange, flow: Flow
) -> IssueDraft | None:
    """Remove or mask what must not leave the organisation.

    Called as a **chain** after mapping and before anything is sent: each
    implementation gets the draft the previous one returned. Return a redacted copy,
    or ``None`` to leave the draft as it is.
    """


@_hookspec(firstresult=True)
def resolve_user(email: str, flow: Flow) -> User | None:
    """Find the Jira account for an e-mail address.

    **First answer** wins; ``None`` means no account matches, and the engine falls
    back to the flow's ``default_assignee`` or leaves the issue unassigned.
    """


@_hookspec(firstresult=True)
def find_issue(draft: IssueDraft, flow: Flow) -> IssueRef | None:
    """Look for an issue an earlier, interrupted attempt created for this draft.

    **First answer** wins. Called before ``create_issue`` only when a previous attempt
    for the record began a create and did not record its outcome; implementations
    search by ``draft.idempotency_key``.
    """


@_hookspec(firstresult=True)
def create_issue(draft: IssueDraft, flow: Flow) -> CreatedIssue | None:
    """Create the issue for a record that has none yet.

    **First answer** wins. Raise :class:`~caspira_hookspecs.RetryableError` for a
    failure worth retrying and :class:`~caspira_hookspecs.RemoteError` for one that is
    not. The created issue must carry ``draft.idempotency_key`` so that
    ``find_issue`` can find it.
    """


@_hookspec(firstresult=True)
def update_issue(issue: IssueRef, draft: IssueDraft, flow: Flow) -> IssueRef | None:
    """Bring an existing issue in line with a changed record.

    **First answer** wins. Called instead of ``create_issue`` when the record is
    already linked to ``issue`` and the mapped values differ from what was last sent.
    """


@_hookspec
def on_issue_linked(
    change: RecordChange, issue: IssueRef, flow: Flow, created: bool
) -> None:
    """A record is now linked to an issue (``created`` is true the first time).

    Called **each**. The Caspio connector writes the issue key back to the flow's
    ``key_field`` here.
    """


@_hookspec(firstresult=True)
def write_record(
    flow: Flow, record_id: str, values: dict[str, Any]
) -> dict[str, Any] | None:
    """Write ``values`` to a record of the flow's table; answer the record as stored.

    **First answer** wins; the Caspio connector implements it.
    """


# --- From a Jira issue back to Caspio ---------------------------------------------


@_hookspec(firstresult=True)
def acting_user(flow: Flow) -> User | None:
    """The account caspira acts as on the issue side.

    **First answer** wins; the Jira connector answers its own account. Changes made
    by this account are caspira's own coming back, and are dropped as echoes.
    """


@_hookspec
def on_issue_transitioned(
    transition: IssueTransition, flow: Flow, record_id: str | None
) -> None:
    """A linked issue changed status in Jira; the record already shows it.

    Called **each**, after the engine wrote the status mapped by ``flow.status_map``
    to the record through ``write_record``, with the linked record's id.
    """


@_hookspec(firstresult=True)
def add_record_comment(comment: IssueComment, flow: Flow, record_id: str) -> str | None:
    """Copy a Jira comment to the record's side; answer the new comment's id there.

    **First answer** wins; the Caspio connector adds a row to the flow's comments
    table (and answers its ``PK_ID``) or appends to its comments field (and answers
    ``comment.comment_id``). Called once per Jira comment.
    """


@_hookspec
def on_comment_added(comment: IssueComment, flow: Flow) -> None:
    """A comment was copied from one side to the other.

    Called **each**, after the copy was made.
    """


# --- From Caspio changes to Jira actions ---------------------------------------------


@_hookspec(firstresult=True)
def transition_issue(
    issue: IssueRef, status: str, flow: Flow, fields: dict[str, Any]
) -> str | None:
    """Move an issue to the status named ``status``; answer the status reached.

    **First answer** wins. The Jira connector finds the transition leading there
    (``GET .../transitions``) and sends ``fields`` (from
    ``flow.transition_fields``) with it. Raise
    :class:`~caspira_hookspecs.MappingError` when no transition leads there or the
    transition needs a field ``fields`` does not give.
    """


@_hookspec(firstresult=True)
def add_issue_comment(issue: IssueRef, comment: IssueComment, flow: Flow) -> str | None:
    """Copy a comment made on the record's side to the issue; answer Jira's id.

    **First answer** wins; the Jira connector posts it as Atlassian Document Format
    (Cloud) or wiki markup (Server). Called once per comment.
    """


# --- Telling people -----------------------------------------------------------------


@_hookspec
def notify(notification: Notification) -> None:
    """Something happened that people should hear about.

    Called **each**, after the outcome is committed. A failing notifier is logged and
    never fails the event.
    """
