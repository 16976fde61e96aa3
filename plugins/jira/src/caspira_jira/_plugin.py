"""The Jira connector: the hooks the engine calls to make, find, update, transition and
comment on issues, and the webhook route Jira's changes come in by.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from caspira_hookspecs import (
    ConfigError,
    CreatedIssue,
    Flow,
    InboundEvent,
    IssueComment,
    IssueDraft,
    IssueRef,
    MappingError,
    PluginContext,
    RemoteError,
    User,
    WebhookRequest,
    WebhookRoute,
    hookimpl,
)
from caspira_jira._client import JiraClient
from caspira_jira._fields import (
    FieldSpec,
    clean_label,
    clean_labels,
    fit_summary,
    rich_text_length,
)
from caspira_jira._fields import shape_value as _shape_value
from caspira_jira._screens import CreateScreen, ScreenCatalogue
from caspira_jira._settings import JiraSettings
from caspira_jira._text import TEXT_LIMIT, clean_text, cut_text, is_blank
from caspira_jira._transitions import (
    example_value,
    missing_fields,
    pick_transition,
    transition_screen,
)
from caspira_jira._webhook import parse_delivery

__all__ = ["JiraPlugin"]

log = logging.getLogger(__name__)

# Draft fields the draft carries in attributes of their own; the attribute wins.
_CARRIED_BY_DRAFT = ("summary", "description")
# Chosen by the flow or the route, never by a field rule.
_SET_BY_FLOW = ("project", "issuetype")


#: Where the daemon receives Jira's webhook deliveries.
WEBHOOK_PATH = "/hooks/jira"


class JiraPlugin:
    """Creates, finds, updates, transitions and comments on Jira issues for records,
    finds Jira users, and parses Jira's webhook deliveries."""

    name = "jira"
    settings_model = JiraSettings

    def __init__(self, context: PluginContext) -> None:
        settings = context.settings
        if not isinstance(settings, JiraSettings):
            settings = JiraSettings.model_validate(settings or {})
        where = (
            f"the API token of {settings.email} (id.atlassian.com, Security, API "
            "tokens)"
            if settings.deployment == "cloud"
            else "a personal access token of the account caspira acts as (Jira "
            "profile, Personal Access Tokens)"
        )
        token = _secret(context, "api_token_env", settings.api_token_env, where)
        self._webhook_secret: str | None = None
        if settings.webhook_secret_env:
            self._webhook_secret = _secret(
                context,
                "webhook_secret_env",
                settings.webhook_secret_env,
                "the secret the Jira webhook was registered with",
            )

        self.settings = settings
        self.client = JiraClient(
            settings, token, transport=context.transports.get("jira")
        )
        self.screens = ScreenCatalogue(self.client)
        self._users: dict[str, User | None] = {}
        self._myself: User | None = None
        self._myself_lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self.client.aclose()

    def idempotency_label(self, draft: IssueDraft) -> str:
        """The label that marks the issue made for ``draft``'s record."""
        return clean_label(
            f"{self.settings.idempotency_label_prefix}{draft.idempotency_key}"
        )

    # --- Hooks: intake ----------------------------------------------------------------

    @hookimpl
    def webhook_routes(self) -> list[WebhookRoute]:
        """``POST /hooks/jira``, where Jira's webhooks deliver."""
        return [
            WebhookRoute(path=WEBHOOK_PATH, name="jira", handler=self.receive_webhook)
        ]

    async def receive_webhook(self, request: WebhookRequest) -> list[InboundEvent]:
        """The events of one Jira delivery; see ``caspira_jira._webhook``."""
        return parse_delivery(
            request,
            site=self.settings.site,
            secret=self._webhook_secret,
            secret_env=self.settings.webhook_secret_env,
        )

    # --- Hooks: from records to issues ----------------------------------------------

    @hookimpl
    async def resolve_user(self, email: str, flow: Flow) -> User | None:
        """The active Jira account with this e-mail address; the answer is cached."""
        return await self.find_user(email)

    @hookimpl
    async def find_issue(self, draft: IssueDraft, flow: Flow) -> IssueRef | None:
        """The issue carrying the draft's idempotency label, oldest first."""
        label = self.idempotency_label(draft)
        jql = f'labels = "{_jql_string(label)}" ORDER BY created ASC'
        found = [
            issue async for issue in self.client.search_issues(jql, fields=("created",))
        ]
        if not found:
            return None

        first = found[0]
        if len(found) > 1:
            log.warning(
                "issue.duplicates",
                extra={
                    "record": draft.record_id,
                    "flow": draft.flow,
                    "issues": [issue.get("key") for issue in found],
                },
            )
        log.info(
            "issue.found",
            extra={
                "issue": first.get("key"),
                "record": draft.record_id,
                "flow": flow.name,
            },
        )
        return self._ref(first)

    @hookimpl
    async def create_issue(self, draft: IssueDraft, flow: Flow) -> CreatedIssue:
        """Create the draft's issue, marked with its idempotency label."""
        screen = await self.screens.screen(
            draft.project, draft.issue_type, draft.record_id
        )
        fields, labels = await self.issue_fields(draft, screen, creating=True)
        fields["project"] = {"key": draft.project}
        fields["issuetype"] = {"id": screen.issue_type_id}
        fields["labels"] = labels

        try:
            answer = await self.client.create_issue(fields)
        except RemoteError:
            # A refused create may come from a screen changed since it was read.
            self.screens.forget(draft.project, draft.issue_type)
            raise
        issue = self._ref(answer)
        log.info(
            "issue.created",
            extra={"issue": issue.key, "record": draft.record_id, "flow": flow.name},
        )
        return CreatedIssue(issue=issue)

    @hookimpl
    async def update_issue(
        self, issue: IssueRef, draft: IssueDraft, flow: Flow
    ) -> IssueRef:
        """Send the draft's values to ``issue``; labels are added, never removed.

        Adding keeps the idempotency label and whatever labels people gave the issue
        in Jira. Empty draft values clear their Jira fields.
        """
        screen = await self.screens.screen(
            draft.project, draft.issue_type, draft.record_id
        )
        # Jira checks an edit against the edit screen; caspira shapes values by the
        # create screen, which holds the same fields unless an admin split them.
        fields, labels = await self.issue_fields(draft, screen, creating=False)

        try:
            await self.client.edit_issue(
                issue.key,
                fields,
                update={"labels": [{"add": label} for label in labels]},
            )
        except RemoteError:
            self.screens.forget(draft.project, draft.issue_type)
            raise
        log.info(
            "issue.updated",
            extra={"issue": issue.key, "record": draft.record_id, "flow": flow.name},
        )
        if issue.url:
            return issue
        return issue.model_copy(update={"url": self.client.browse_url(issue.key)})

    # --- Hooks: the way back ----------------------------------------------------------

    @hookimpl
    async def acting_user(self, flow: Flow) -> User:
        """The account caspira acts as (``GET /myself``), asked once."""
        async with self._myself_lock:
            if self._myself is None:
                account = await self.client.myself()
                self._myself = self.client.dialect.user(account)
        return self._myself

    @hookimpl
    async def transition_issue(
        self, issue: IssueRef, status: str, flow: Flow, fields: dict[str, Any]
    ) -> str:
        """Move ``issue`` to ``status`` by the transition leading there.

        ``fields`` (ids or display names) are shaped by the transition screen's
        schemas. An issue already in ``status`` is left alone. Answers the status
        reached, spelled as Jira spells it.
        """
        current = await self._status_of(issue)
        if current.casefold() == status.casefold():
            log.debug("issue.already_in_status", extra={"issue": issue.key})
            return current

        transitions = await self.client.transitions(issue.key)
        chosen = pick_transition(
            transitions, status, issue_key=issue.key, current=current, flow=flow.name
        )
        screen = transition_screen(issue.key, chosen)
        target = str(chosen["to"]["name"])
        where = f'flows.{flow.name}.transition_fields."{status}"'
        shaped: dict[str, Any] = {}
        for key, value in (fields or {}).items():
            spec = screen.by_key(key)
            if spec is None:
                offered = ", ".join(s.title for s in screen.fields.values()) or "none"
                raise MappingError(
                    issue.key,
                    key,
                    f"the transition {screen.issue_type!r} to {target} has no field "
                    f"{key!r} on its screen (it has: {offered})",
                    f"remove {key!r} from {where}",
                )
            value = await self._with_users(spec, value, key, issue.key)
            shaped[spec.id] = self._shape(spec, value, key, issue.key)
        for spec in missing_fields(screen, shaped):
            raise MappingError(
                issue.key,
                spec.id,
                f"the transition {screen.issue_type!r} to {target} requires "
                f"{spec.title}, and no value is given for it",
                f'give it in {where}, for example {spec.id} = "{example_value(spec)}"',
            )

        await self.client.transition_issue(issue.key, str(chosen["id"]), shaped)
        log.info(
            "issue.transitioned",
            extra={"issue": issue.key, "status": target, "flow": flow.name},
        )
        return target

    @hookimpl
    async def add_issue_comment(
        self, issue: IssueRef, comment: IssueComment, flow: Flow
    ) -> str:
        """Post ``comment.body`` on ``issue`` as Jira's rich text; answer its id.

        The body is cleaned like every text caspira sends (``clean_text``) and, when
        Jira would find it too long, cut with a marker naming where the rest is.
        """
        body = clean_text(comment.body).strip("\n")
        if is_blank(body):
            raise MappingError(
                issue.key,
                "comment",
                f"comment {comment.comment_id} is empty (or shows nothing), and Jira "
                "refuses empty comments",
                "give the comment a text on the record's side",
            )
        where = f"Caspio comment {comment.comment_id}"
        if comment.record_id:
            where += f" of record {comment.record_id}"
        body = cut_text(body, TEXT_LIMIT, where=where, measure=rich_text_length)
        answer = await self.client.add_comment(
            issue.key, self.client.dialect.rich_text(body)
        )
        log.info(
            "comment.added",
            extra={"issue": issue.key, "comment": answer.get("id"), "flow": flow.name},
        )
        return str(answer["id"])

    async def _status_of(self, issue: IssueRef) -> str:
        answer = await self.client.get_issue(issue.key, ("status",))
        return str(answer["fields"]["status"]["name"])

    # --- Building what is sent -----------------------------------------------------

    async def find_user(self, email: str) -> User | None:
        """The active account whose e-mail address is ``email``, cached per address."""
        wanted = email.strip().casefold()
        if wanted in self._users:
            return self._users[wanted]

        accounts = await self.client.search_users(email.strip())
        user = self._pick_user(accounts, wanted)
        self._users[wanted] = user
        log.debug("jira.user_resolved", extra={"matched": user is not None})
        return user

    async def issue_fields(
        self, draft: IssueDraft, screen: CreateScreen, *, creating: bool
    ) -> tuple[dict[str, Any], list[str]]:
        """The shaped ``fields`` for ``draft`` and the labels it should carry.

        On create, empty values (``None``, or text that shows nothing) are left out;
        on update they empty their Jira field: ``null``, or ``[]`` for a list field.
        """
        record = draft.record_id
        summary, full_title = fit_summary(draft.summary, record_id=record)
        description = "\n\n".join(
            part
            for part in (full_title, draft.description.strip())
            if part and not is_blank(part)
        )
        self._require(screen, "summary", record)
        fields: dict[str, Any] = {"summary": summary}
        shaped = None
        if description:
            spec = self._require(screen, "description", record)
            shaped = self._shape(spec, description, spec.id, record)
        if shaped is not None:
            fields["description"] = shaped
        elif not creating and "description" in screen.fields:
            fields["description"] = None

        rule_fields, rule_labels = await self._rule_fields(draft, screen, creating)
        fields.update(rule_fields)

        assignee = draft.assignee
        if assignee is None and draft.assignee_email:
            assignee = await self.find_user(draft.assignee_email)
        if assignee is not None:
            spec = self._require(screen, "assignee", record)
            fields["assignee"] = self._shape(spec, assignee, "assignee", record)

        self._require(screen, "labels", record)
        labels = clean_labels(
            [*draft.labels, *rule_labels, self.idempotency_label(draft)]
        )
        return fields, labels

    async def _rule_fields(
        self, draft: IssueDraft, screen: CreateScreen, creating: bool
    ) -> tuple[dict[str, Any], list[Any]]:
        """``draft.fields`` resolved and shaped, and the labels found among them."""
        record = draft.record_id
        fields: dict[str, Any] = {}
        labels: list[Any] = []
        for key, value in draft.fields.items():
            spec = await self.screens.resolve(screen, key, record)
            if spec.id in _CARRIED_BY_DRAFT:
                log.debug("jira.field_ignored", extra={"field": key, "record": record})
                continue
            if spec.id in _SET_BY_FLOW:
                raise MappingError(
                    record,
                    key,
                    f"the Jira field {spec.title} is set by the flow, not by a rule",
                    "remove it from the flow's fields; set the flow's project and "
                    "issue_type (or a route) instead",
                )
            if spec.id == "labels":
                # Labels are added by the edit's update, never set, so an emptied
                # labels field has nothing to add and removes nothing.
                if value is not None:
                    labels.extend(value if isinstance(value, list | tuple) else [value])
                continue
            if spec.id == "assignee" and (draft.assignee or draft.assignee_email):
                continue
            value = await self._with_users(spec, value, key, draft.record_id)
            shaped = self._shape(spec, value, key, record)
            if shaped is not None and shaped != []:
                fields[spec.id] = shaped
            elif not creating:
                fields[spec.id] = spec.empty_value
        return fields, labels

    def _shape(self, spec: FieldSpec, value: Any, key: str, record_id: str) -> Any:
        return _shape_value(
            spec, value, key=key, record_id=record_id, dialect=self.client.dialect
        )

    async def _with_users(
        self, spec: FieldSpec, value: Any, key: str, record_id: str
    ) -> Any:
        """``value`` with e-mail addresses in user fields turned into Jira users."""
        if spec.kind not in ("user", "users") or value is None:
            return value
        if spec.kind == "users" and isinstance(value, list | tuple):
            return [await self._user_for(item, key, record_id) for item in value]
        return await self._user_for(value, key, record_id)

    async def _user_for(self, value: Any, key: str, record_id: str) -> Any:
        if not (isinstance(value, str) and "@" in value):
            return value
        user = await self.find_user(value)
        if user is None:
            raise MappingError(
                record_id,
                key,
                f"no active Jira account has the e-mail address {value!r}",
                "invite that person to Jira, or map the field to someone who has an "
                "account (a rule's values or default)",
            )
        return user

    def _require(
        self, screen: CreateScreen, field_id: str, record_id: str
    ) -> FieldSpec:
        spec = screen.fields.get(field_id)
        if spec is not None:
            return spec
        why = {
            "summary": "every issue needs a summary",
            "description": "the record has a description to send",
            "labels": "caspira marks each issue it makes with a label, so that a "
            "retried create finds it",
            "assignee": "the record names an assignee",
        }[field_id]
        raise MappingError(
            record_id,
            field_id,
            f"the create screen of {screen.project} {screen.issue_type} has no "
            f"{field_id} field, and {why}",
            "add the field to that screen in Jira's project settings",
        )

    def _pick_user(self, accounts: list[dict[str, Any]], wanted: str) -> User | None:
        candidates = [
            account
            for account in accounts
            if account.get("active", True)
            and self.client.dialect.user_id(account)
            and account.get("accountType", "atlassian") == "atlassian"
        ]
        exact = [
            account
            for account in candidates
            if str(account.get("emailAddress", "")).casefold() == wanted
        ]
        # Sites may hide e-mail addresses; a query by address then finds one account.
        hidden = [account for account in candidates if not account.get("emailAddress")]
        if exact:
            chosen = exact[0]
        elif len(candidates) == len(hidden) == 1:
            chosen = hidden[0]
        else:
            return None
        user = self.client.dialect.user(chosen)
        return user.model_copy(update={"email": user.email or wanted})

    def _ref(self, issue: dict[str, Any]) -> IssueRef:
        key = str(issue["key"])
        return IssueRef(key=key, id=str(issue["id"]), url=self.client.browse_url(key))


def _jql_string(text: str) -> str:
    """``text`` escaped for a double-quoted JQL string."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _secret(context: PluginContext, key: str, env_name: str, what: str) -> str:
    try:
        return context.secret(env_name)
    except KeyError:
        raise ConfigError(
            "[jira]",
            [
                (
                    key,
                    f"the environment variable {env_name} is not set; set it to {what}",
                )
            ],
        ) from None
