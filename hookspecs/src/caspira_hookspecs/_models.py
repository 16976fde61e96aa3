"""The values hooks exchange: flows, record changes, issue drafts, issues, users.

Every model is a frozen pydantic model, so a hook that wants to change one returns a
copy (``model.model_copy(update={...})``) instead of mutating what other plugins see.
"""

from __future__ import annotations

import string
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "BackRule",
    "CommentSync",
    "CreatedIssue",
    "FieldChange",
    "FieldRule",
    "Flow",
    "InboundEvent",
    "IssueChange",
    "IssueComment",
    "IssueDraft",
    "IssueRef",
    "IssueTransition",
    "Notification",
    "PluginContext",
    "RecordChange",
    "Route",
    "Skip",
    "User",
    "WebhookRequest",
    "WebhookRoute",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FieldRule(_Frozen):
    """How one Jira field gets its value from a Caspio record.

    Exactly one of ``source`` (a Caspio field name) or ``template`` (a Python format
    string over record fields, such as ``"{Details}\\n\\nEnvironment: {Environment}"``)
    is given. ``values`` maps Caspio values to Jira values; a value missing from the
    map falls back to ``default`` and, when there is none, fails the record with an
    error naming the field.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    source: str | None = Field(default=None, alias="from")
    template: str | None = None
    values: dict[str, Any] | None = None
    default: Any = None
    required: bool = False

    @model_validator(mode="after")
    def _one_origin(self) -> FieldRule:
        if (self.source is None) == (self.template is None):
            raise ValueError(
                "give exactly one of 'from' (a Caspio field) or 'template'"
            )
        if self.template is not None:
            try:
                names = [n for _, n, _, _ in string.Formatter().parse(self.template)]
            except ValueError as exc:
                raise ValueError(
                    f"the template is malformed ({exc}); write record fields as "
                    "{Field} and a literal brace as {{ or }}"
                ) from None
            if any(name is not None and not name.strip() for name in names):
                raise ValueError("the template has an empty {}; name a record field")
        return self


class BackRule(_Frozen):
    """How a change made in Jira is written back to a Caspio field.

    ``values`` maps Jira values to Caspio values; without it, the inverse of the
    forward rule's ``values`` for the same Caspio field is used, and a value with
    no mapping is logged and skipped. For user fields, ``user_as`` chooses what is
    written: the display name, the account id, or (Server) the user name.
    """

    to: str
    values: dict[str, Any] | None = None
    user_as: Literal["display_name", "account_id", "name"] = "display_name"


class CommentSync(_Frozen):
    """Where comments live on the Caspio side.

    Either ``table``, a Caspio table with one row per comment whose
    ``record_field`` holds the commented record's ``PK_ID`` (new rows there become
    Jira comments too), or ``field``, a text field of the record that Jira comments
    are appended to.
    """

    table: str | None = None
    record_field: str = "RecordID"
    body_field: str = "Body"
    author_field: str | None = "Author"
    field: str | None = None

    @model_validator(mode="after")
    def _one_place(self) -> CommentSync:
        if (self.table is None) == (self.field is None):
            raise ValueError("give exactly one of 'table' or 'field'")
        return self


class Flow(_Frozen):
    """One configured path from a Caspio table to a Jira project, and back.

    ``fields`` is keyed by the Jira field: a system field id (``summary``,
    ``description``, ``priority``, ``components``, ``labels``, ``duedate``,
    ``assignee``) or a custom field's id (``customfield_10042``) or display name
    (``"Customer Impact"``).

    The way back: ``status_map`` maps Jira status names to values of the Caspio
    ``status_field`` (and, inverted, a Caspio status change to the Jira status a
    transition should reach; ``transition_fields`` gives the fields a transition's
    screen requires, by target status). ``from_jira`` maps other Jira fields
    (``priority``, ``assignee``, custom fields) to Caspio fields. When both sides
    changed a field since it was last synced, ``conflict_policy`` decides.
    """

    name: str
    table: str
    project: str
    issue_type: str = "Bug"
    fields: dict[str, FieldRule] = Field(default_factory=dict)
    labels: tuple[str, ...] = ()
    key_field: str | None = None
    default_assignee: str | None = None
    webhook_secret_env: str | None = None
    notify: bool = True
    status_field: str | None = None
    status_map: dict[str, str] = Field(default_factory=dict)
    transition_fields: dict[str, dict[str, Any]] = Field(default_factory=dict)
    from_jira: dict[str, BackRule] = Field(default_factory=dict)
    conflict_policy: Literal["caspio_wins", "jira_wins", "latest"] = "latest"
    comments: CommentSync | None = None
    settings: dict[str, Any] = Field(default_factory=dict)


class RecordChange(_Frozen):
    """A record was inserted, updated or deleted in a Caspio table."""

    flow: str
    table: str
    record_id: str
    operation: Literal["insert", "update", "delete"]
    values: dict[str, Any]
    occurred_at: datetime | None = None
    delivery_id: str | None = None
    source: str = "caspio"


class Skip(_Frozen):
    """Returned by ``on_record_changed`` to stop a change; ``reason`` is audited."""

    reason: str


class Route(_Frozen):
    """Where a record's issue goes: ``route_record`` answers it to override the flow."""

    project: str
    issue_type: str


class User(_Frozen):
    """A Jira account. Cloud identifies users by ``account_id``, Server by ``name``."""

    account_id: str | None = None
    name: str | None = None
    email: str | None = None
    display_name: str | None = None


class IssueDraft(_Frozen):
    """The issue a record should become, before any Jira-specific shaping.

    ``fields`` holds plain Python values keyed like ``Flow.fields`` (for example
    ``{"priority": "Highest", "components": ["Mobile App"], "Customer Impact":
    "High"}``); the Jira connector shapes each by the field's schema when it sends.
    A ``None`` in ``fields`` means the record's field is empty: ``create_issue``
    leaves it out and ``update_issue`` empties it in Jira. ``summary`` and
    ``description`` are plain text. ``idempotency_key`` is filled in
    by the engine after mapping: it is stable for a record, so a retried create can
    find the issue a crashed attempt made.
    """

    flow: str
    record_id: str
    project: str
    issue_type: str
    summary: str
    description: str = ""
    fields: dict[str, Any] = Field(default_factory=dict)
    labels: tuple[str, ...] = ()
    assignee: User | None = None
    assignee_email: str | None = None
    idempotency_key: str = ""


class IssueRef(_Frozen):
    """An issue that exists in Jira."""

    key: str
    id: str
    url: str | None = None


class CreatedIssue(_Frozen):
    """What ``create_issue`` answers: the issue and whether this call made it."""

    issue: IssueRef
    adopted: bool = False


class FieldChange(_Frozen):
    """One item of a Jira changelog: ``field_id`` (``status``, ``priority``,
    ``assignee``, ``customfield_10042``), the display ``field`` name, and the old and
    new values as ids (``from_id``/``to_id``) and as text (``from_text``/``to_text``).
    """

    field_id: str
    field: str | None = None
    from_id: str | None = None
    from_text: str | None = None
    to_id: str | None = None
    to_text: str | None = None


class IssueChange(_Frozen):
    """A Jira issue was created, updated or deleted (a webhook delivery).

    ``changes`` is the changelog; ``actor`` the account that made the change, so the
    engine can recognise its own changes coming back; ``occurred_at`` Jira's
    ``timestamp``, used to drop stale and out-of-order deliveries.
    """

    issue: IssueRef
    event: Literal["created", "updated", "deleted"]
    project: str | None = None
    changes: tuple[FieldChange, ...] = ()
    actor: User | None = None
    occurred_at: datetime | None = None
    delivery_id: str | None = None


class IssueTransition(_Frozen):
    """A Jira issue changed status."""

    issue: IssueRef
    from_status: str | None
    to_status: str
    actor: User | None = None
    occurred_at: datetime | None = None


class IssueComment(_Frozen):
    """A comment on a Jira issue (``source="jira"``) or a Caspio record
    (``source="caspio"``), as plain text. ``comment_id`` is the id on its own side:
    Jira's comment id, or the ``PK_ID`` of the row in the Caspio comments table.
    """

    source: Literal["jira", "caspio"] = "jira"
    event: Literal["created", "updated", "deleted"] = "created"
    issue: IssueRef | None = None
    record_id: str | None = None
    comment_id: str
    body: str
    author: User | None = None
    occurred_at: datetime | None = None


class Notification(_Frozen):
    """Something people should hear about; the Slack connector posts these."""

    flow: str
    kind: Literal[
        "issue_created", "issue_updated", "event_failed", "issue_transitioned"
    ]
    title: str
    text: str = ""
    issue: IssueRef | None = None
    record_id: str | None = None


class InboundEvent(_Frozen):
    """One unit of work a webhook delivery asks for, as the core stores it.

    ``key`` orders events: events with the same key are applied one at a time, in
    the order they were received. A Caspio record's events use ``"<flow>:<PK_ID>"``;
    a Jira issue's use ``"issue:<KEY>"``, which the engine replaces with the linked
    record's key when it stores them, so both sides of one record stay in order.
    ``delivery_id`` makes a repeated delivery a no-op. ``kind`` chooses the pipeline
    and says what ``payload`` is, dumped to JSON-able values: ``record_changed``
    (a :class:`RecordChange`), ``issue_changed`` (an :class:`IssueChange`) or
    ``comment_changed`` (an :class:`IssueComment`). Jira deliveries leave ``flow``
    ``None``; the engine finds it through the issue's link.
    """

    source: str
    kind: str
    flow: str | None
    key: str
    delivery_id: str
    payload: dict[str, Any]


class WebhookRequest(_Frozen):
    """An HTTP delivery, as a webhook handler sees it: nothing stored yet."""

    path_params: dict[str, str]
    headers: dict[str, str]
    body: bytes


class WebhookRoute(_Frozen):
    """A webhook endpoint a plugin adds to the daemon.

    ``path`` is a Starlette-style pattern (``/hooks/caspio/{flow}``). ``handler`` is
    ``async def handler(request: WebhookRequest) -> list[InboundEvent]``; it may only
    validate and parse, never call a remote service, and raises
    :class:`~caspira_hookspecs.WebhookRejected` to refuse a delivery.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    path: str
    name: str
    handler: Any


class PluginContext(_Frozen):
    """What the engine gives a plugin class when it instantiates it.

    ``settings`` is the plugin's own configuration section, already validated by
    the plugin's ``settings_model``; ``flows`` are the configured flows by name.
    ``secret(name)`` reads the secret whose environment variable is ``name`` from
    the engine's secret source (``os.environ`` unless the embedder gave another).
    ``transports`` maps a service name (``"caspio"``, ``"jira"``, ``"slack"``) to
    an ``httpx.AsyncBaseTransport`` to use instead of the network: the testing and
    embedding seam.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    tenant: str = "default"
    settings: Any = None
    flows: dict[str, Flow] = Field(default_factory=dict)
    secrets: Any = None
    transports: dict[str, Any] = Field(default_factory=dict)

    def secret(self, env_name: str) -> str:
        """The secret stored under ``env_name``; raises ``KeyError`` when unset."""
        return self.secrets[env_name]
