"""The Jira connector: the hooks the engine calls to make, find and update issues."""

from __future__ import annotations

import logging
from typing import Any

from caspira_hookspecs import (
    ConfigError,
    CreatedIssue,
    Flow,
    IssueDraft,
    IssueRef,
    MappingError,
    PluginContext,
    RemoteError,
    User,
    hookimpl,
)
from caspira_jira._client import JiraClient
from caspira_jira._fields import FieldSpec, clean_label, clean_labels, fit_summary
from caspira_jira._fields import shape_value as _shape_value
from caspira_jira._screens import CreateScreen, ScreenCatalogue
from caspira_jira._settings import JiraSettings

__all__ = ["JiraPlugin"]

log = logging.getLogger(__name__)

# Draft fields the draft carries in attributes of their own; the attribute wins.
_CARRIED_BY_DRAFT = ("summary", "description")
# Chosen by the flow or the route, never by a field rule.
_SET_BY_FLOW = ("project", "issuetype")


class JiraPlugin:
    """Creates, finds and updates Jira issues for records, and finds Jira users."""

    name = "jira"
    settings_model = JiraSettings

    def __init__(self, context: PluginContext) -> None:
        settings = context.settings
        if not isinstance(settings, JiraSettings):
            settings = JiraSettings.model_validate(settings or {})
        try:
            token = context.secret(settings.api_token_env)
        except KeyError:
            raise ConfigError(
                "[jira]",
                [
                    (
                        "api_token_env",
                        f"the environment variable {settings.api_token_env} is not "
                        "set; set it to the API token of "
                        f"{settings.email} (id.atlassian.com, Security, API tokens)",
                    )
                ],
            ) from None

        self.settings = settings
        self.client = JiraClient(
            settings, token, transport=context.transports.get("jira")
        )
        self.screens = ScreenCatalogue(self.client)
        self._users: dict[str, User | None] = {}

    async def aclose(self) -> None:
        await self.client.aclose()

    def idempotency_label(self, draft: IssueDraft) -> str:
        """The label that marks the issue made for ``draft``'s record."""
        return clean_label(
            f"{self.settings.idempotency_label_prefix}{draft.idempotency_key}"
        )

    # --- Hooks ------------------------------------------------------------------------

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

        On create, empty values are left out; on update they are sent as ``null``
        so Jira clears the field.
        """
        record = draft.record_id
        summary, full_title = fit_summary(draft.summary)
        description = "\n\n".join(
            part for part in (full_title, draft.description.strip()) if part
        )
        self._require(screen, "summary", record)
        fields: dict[str, Any] = {"summary": summary}
        if description:
            spec = self._require(screen, "description", record)
            fields["description"] = self._shape(spec, description, spec.id, record)
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
                labels.extend(value if isinstance(value, list | tuple) else [value])
                continue
            if spec.id == "assignee" and (draft.assignee or draft.assignee_email):
                continue
            value = await self._with_users(spec, value, key, draft)
            shaped = self._shape(spec, value, key, record)
            if shaped is not None or not creating:
                fields[spec.id] = shaped
        return fields, labels

    def _shape(self, spec: FieldSpec, value: Any, key: str, record_id: str) -> Any:
        return _shape_value(
            spec, value, key=key, record_id=record_id, dialect=self.client.dialect
        )

    async def _with_users(
        self, spec: FieldSpec, value: Any, key: str, draft: IssueDraft
    ) -> Any:
        """``value`` with e-mail addresses in user fields turned into Jira users."""
        if spec.kind not in ("user", "users") or value is None:
            return value
        if spec.kind == "users" and isinstance(value, list | tuple):
            return [await self._user_for(item, key, draft) for item in value]
        return await self._user_for(value, key, draft)

    async def _user_for(self, value: Any, key: str, draft: IssueDraft) -> Any:
        if not (isinstance(value, str) and "@" in value):
            return value
        user = await self.find_user(value)
        if user is None:
            raise MappingError(
                draft.record_id,
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
        return User(
            account_id=self.client.dialect.user_id(chosen),
            email=chosen.get("emailAddress") or wanted,
            display_name=chosen.get("displayName"),
        )

    def _ref(self, issue: dict[str, Any]) -> IssueRef:
        key = str(issue["key"])
        return IssueRef(key=key, id=str(issue["id"]), url=self.client.browse_url(key))


def _jql_string(text: str) -> str:
    """``text`` escaped for a double-quoted JQL string."""
    return text.replace("\\", "\\\\").replace('"', '\\"')
