"""The in-memory Jira site behind the emulator: its issues, comments, workflow and
webhooks, and Jira's rules; a refused change raises ``JiraRejection``.
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import anyio

from caspira_jira._adf import adf_to_text, is_adf_document
from caspira_jira._emulator_faults import Fault, FaultPlan
from caspira_jira._emulator_hooks import Courier
from caspira_jira._emulator_jql import JqlError, Query, parse_jql
from caspira_jira._emulator_model import (
    PRIORITIES,
    RESOLUTIONS,
    STATUSES,
    TRANSITIONS,
    Account,
    Comment,
    Field,
    Issue,
    IssueType,
    JiraRejection,
    Problem,
    Project,
    Status,
    Transition,
)
from caspira_jira._emulator_seed import SEEDS
from caspira_jira._ratelimit import BURST
from caspira_jira._text import SUMMARY_LIMIT, TEXT_LIMIT, jira_length

__all__ = [
    "PRIORITIES",
    "RESOLUTIONS",
    "STATUSES",
    "TRANSITIONS",
    "Account",
    "Comment",
    "EmulatedJira",
    "Fault",
    "Field",
    "Issue",
    "IssueType",
    "JiraRejection",
    "Project",
    "Status",
    "Transition",
]

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ARRAY_KINDS = ("options", "named_list", "labels", "strings", "users")
_ADF_BLOCKS = {
    "paragraph",
    "heading",
    "bulletList",
    "orderedList",
    "listItem",
    "codeBlock",
    "blockquote",
    "rule",
    "panel",
    "table",
    "tableRow",
    "tableHeader",
    "tableCell",
    "mediaSingle",
    "media",
}
_ADF_INLINES = {"text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status"}
# How Jira's changelog names the system fields whose name is not their id.
_CHANGELOG_NAMES = {
    "components": "Component",
    "versions": "Version",
    "fixVersions": "Fix Version",
}


class EmulatedJira:
    """One Jira site in memory; ``app.state.emulator`` in the emulator app.

    ``deployment`` is ``"cloud"`` (REST v3, ADF, accounts by id) or ``"server"``
    (REST v2, wiki markup, users by name). Webhook deliveries go through
    ``courier``; ``await drain()`` waits for those under way. ``faults`` is the
    trouble the site makes (a ``FaultPlan``), built from ``fault_options``.

    ``clock`` (the time Jira shows), ``monotonic`` (the time rate limits count)
    and ``sleep`` (how latency is added) may be replaced by tests.
    """

    def __init__(
        self,
        *,
        email: str = "caspira-bot@example.com",
        api_token: str = "caspira-demo-token",
        seed: str = "demo",
        base_url: str | None = None,
        search_page_size: int = 100,
        deployment: str = "cloud",
        webhook_retry_delay: float = 0.05,
        webhook_retries: int = 3,
        clock: Callable[[], datetime] | None = None,
        fault_options: Mapping[str, str] | None = None,
    ):
        if seed not in SEEDS:
            known = ", ".join(sorted(SEEDS))
            raise ValueError(f"unknown seed {seed!r}; use one of: {known}")
        if deployment not in ("cloud", "server"):
            raise ValueError(
                f"unknown deployment {deployment!r}; use 'cloud' or 'server'"
            )
        self.email = email
        self.api_token = api_token
        self.seed = seed
        self.base_url = base_url.rstrip("/") if base_url else None
        self.search_page_size = search_page_size
        self.deployment = deployment
        self.clock = clock or (lambda: datetime.now(UTC))
        self.monotonic: Callable[[], float] = time.monotonic
        self.sleep: Callable[[float], Awaitable[None]] = anyio.sleep
        self.fault_options = dict(fault_options or {})
        self.courier = Courier(retry_delay=webhook_retry_delay, retries=webhook_retries)
        self.reset()

    @property
    def server(self) -> bool:
        return self.deployment == "server"

    @property
    def api_root(self) -> str:
        """Where the REST API lives: v2 on Server, v3 on Cloud."""
        return "/rest/api/2" if self.server else "/rest/api/3"

    def reset(self) -> None:
        """Forget every issue and webhook, put the faults back as the options set
        them (the rolls start again from ``fault_seed``) and load the seed again."""
        self.courier.cancel()
        self.accounts: dict[str, Account] = {}
        self.fields: dict[str, Field] = {}
        self.projects: dict[str, Project] = {}
        self.issues: dict[str, Issue] = {}
        self.faults = FaultPlan.from_options(self.fault_options)
        self._next_issue_id = 10001
        self._next_comment_id = 30001
        self._next_changelog_id = 20001
        self.bot = Account(
            "712020:c0ffee00-0b07-4bbb-8ccc-000000000001",
            self.email,
            "Caspira Bot",
            token=self.api_token,
        )
        self.accounts[self.bot.account_id] = self.bot
        SEEDS[self.seed](self)

    # --- Credentials, faults and webhooks -------------------------------------------

    def sign_in(self, email: str, token: str) -> Account | None:
        """The active account Basic ``email:token`` belongs to (Cloud's way)."""
        account = self.account_by_email(email)
        if account is None or not account.active:
            return None
        return account if hmac.compare_digest(account.token, token) else None

    def sign_in_with_token(self, token: str) -> Account | None:
        """The active account a personal access token belongs to (Server's way)."""
        for account in self.accounts.values():
            if account.active and hmac.compare_digest(account.token, token):
                return account
        return None

    async def drain(self) -> None:
        """Wait until every webhook delivery made so far is done or has given up."""
        await self.courier.drain()

    def publish(
        self, event: str, issue: Issue, body: dict[str, Any], changed: list[str]
    ) -> None:
        """Send ``body`` to the webhooks that want ``event`` about ``issue``."""
        self.courier.publish(
            event,
            body,
            matches=lambda jql: self.matches_jql(issue, jql),
            changed=changed,
        )

    def check_jql(self, jql: str) -> str | None:
        """Why ``jql`` cannot filter webhooks, or ``None`` when it can."""
        try:
            for clause in parse_jql(jql).clauses:
                self._jql_reader(clause.field)
        except JqlError as exc:
            return str(exc)
        return None

    def matches_jql(self, issue: Issue, jql: str) -> bool:
        if not jql.strip():
            return True
        try:
            return self._matches(issue, parse_jql(jql))
        except JqlError:
            return False

    def add_fault(
        self,
        status: int | str | tuple[int, ...],
        *,
        count: int | None = 1,
        retry_after: float | str | None = None,
        path: str = "/rest/",
        rate: float = 1.0,
        reason: str = BURST,
        reset_after: float | None = None,
        writes_only: bool = False,
        after_commit: bool = False,
    ) -> Fault:
        """Answer the next ``count`` API requests under ``path`` with ``status``.

        ``status`` may be ``"drop"`` (close the connection unanswered) or a tuple
        of statuses to choose from; ``count=None`` fails requests without end, each
        with probability ``rate``; see ``caspira_jira._emulator_faults.Fault`` for
        the rest.
        """
        return self.faults.add(
            status,
            count=count,
            retry_after=retry_after,
            path=path,
            rate=rate,
            reason=reason,
            reset_after=reset_after,
            writes_only=writes_only,
            after_commit=after_commit,
        )

    # --- Look-ups ---------------------------------------------------------------------

    def project(self, key_or_id: str) -> Project:
        for project in self.projects.values():
            if key_or_id in (project.key, project.id):
                return project
        raise JiraRejection(404, [f"No project could be found with key {key_or_id!r}."])

    def issue(self, key_or_id: str) -> Issue:
        for issue in self.issues.values():
            if key_or_id in (issue.key, issue.id):
                return issue
        raise JiraRejection(404, ["The issue does not exist or you cannot see it."])

    def account(self, account_id: str) -> Account | None:
        return self.accounts.get(account_id)

    def account_by_username(self, username: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.username == username), None)

    def account_by_email(self, email: str) -> Account | None:
        folded = email.casefold()
        return next(
            (a for a in self.accounts.values() if a.email.casefold() == folded), None
        )

    def find_accounts(self, query: str) -> list[Account]:
        """Accounts whose e-mail address, name or a word of the name starts with it."""
        folded = query.casefold()
        found = []
        for account in self.accounts.values():
            words = [
                account.email,
                account.username,
                account.display_name,
                *account.display_name.split(),
            ]
            if any(word.casefold().startswith(folded) for word in words):
                found.append(account)
        return found

    def status(self, status_id: str) -> Status:
        return next(status for status in STATUSES if status.id == status_id)

    def epoch_ms(self) -> int:
        """Now in milliseconds since the epoch, as webhooks' ``timestamp``."""
        return int(self.clock().timestamp() * 1000)

    def now(self) -> str:
        moment = self.clock().astimezone(UTC)
        return (
            moment.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{moment.microsecond // 1000:03d}+0000"
        )

    # --- Issues -----------------------------------------------------------------------

    def create_issue(self, body: Any, actor: Account) -> Issue:
        """``POST /issue``: check everything Jira checks, then make the issue."""
        fields, update = _fields_and_update(body)
        project = self._project_of(fields.get("project"))
        issue_type = project.issue_type(_reference(fields.get("issuetype")))
        if issue_type is None:
            raise JiraRejection(
                400, errors={"issuetype": "Specify a valid issue type."}
            )

        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        for key, value in fields.items():
            if key in ("project", "issuetype"):
                continue
            problem = self._set(values, project, issue_type, key, value)
            if problem:
                errors[key] = problem
        errors.update(self._apply_update(values, project, issue_type, update, fields))
        if "summary" not in errors and not values.get("summary"):
            errors["summary"] = "You must give the issue a summary."
        if errors:
            raise JiraRejection(400, errors=errors)

        issue_id = str(self._next_issue_id)
        self._next_issue_id += 1
        key = f"{project.key}-{project.next_number}"
        project.next_number += 1
        reporter = values.pop("reporter", None) or actor.account_id
        stamp = self.now()
        issue = Issue(
            issue_id,
            key,
            project,
            issue_type,
            STATUSES[0],
            values,
            reporter,
            stamp,
            stamp,
        )
        self.issues[key] = issue
        return issue

    def edit_issue(self, key: str, body: Any) -> Issue:
        """``PUT /issue/{key}``: change fields and apply update operations."""
        issue = self.issue(key)
        fields, update = _fields_and_update(body)
        values = dict(issue.fields)
        errors: dict[str, str] = {}
        for name, value in fields.items():
            if name in ("project", "issuetype"):
                errors[name] = f"The field {name!r} cannot be changed by an edit."
                continue
            problem = self._set(values, issue.project, issue.issue_type, name, value)
            if problem:
                errors[name] = problem
        errors.update(
            self._apply_update(values, issue.project, issue.issue_type, update, fields)
        )
        if errors:
            raise JiraRejection(400, errors=errors)
        issue.reporter = values.pop("reporter", None) or issue.reporter
        issue.fields = values
        issue.updated = self.now()
        return issue

    def delete_issue(self, key: str) -> Issue:
        """``DELETE /issue/{key}``: the issue is gone; answers it as it was."""
        issue = self.issue(key)
        del self.issues[issue.key]
        return issue

    def transitions(self, issue: Issue) -> list[Transition]:
        """The transitions the workflow opens from the issue's status."""
        return [t for t in TRANSITIONS if issue.status.id in t.sources]

    def transition(self, key: str, body: Any) -> tuple[Issue, list[dict[str, Any]]]:
        """``POST /issue/{key}/transitions``: the issue and its changelog items.

        Fields must be on the transition's screen and its required ones given.
        Leaving Done clears the resolution, as Jira's reopen steps do.
        """
        issue = self.issue(key)
        if not isinstance(body, dict) or not isinstance(body.get("transition"), dict):
            raise JiraRejection(
                400, ["Give the transition as {'transition': {'id': ...}}."]
            )
        if body.get("update"):
            raise JiraRejection(
                400, ["The emulator takes a transition's fields in 'fields' only."]
            )
        given = body.get("fields") or {}
        if not isinstance(given, dict):
            raise JiraRejection(400, ["'fields' must be a JSON object."])
        wanted = str(body["transition"].get("id"))
        chosen = next((t for t in self.transitions(issue) if t.id == wanted), None)
        if chosen is None:
            raise JiraRejection(
                400, [f"Transition id {wanted!r} is not valid for issue {issue.key}."]
            )

        values = dict(issue.fields)
        errors: dict[str, str] = {}
        for name, value in given.items():
            if name not in chosen.screen:
                errors[name] = (
                    f"Field {name!r} cannot be set. It is not on the appropriate "
                    "screen, or unknown."
                )
                continue
            try:
                stored = self._accept(self.fields[name], issue.project, value)
            except Problem as problem:
                errors[name] = str(problem)
                continue
            values[name] = stored
        for name in chosen.required:
            if name not in errors and given.get(name) in (None, "", []):
                errors[name] = f"{self.fields[name].name} is required."
        if errors:
            raise JiraRejection(400, errors=errors)

        target = self.status(chosen.to)
        if target.category != "done":
            values.pop("resolution", None)
        before, old_status = issue.fields, issue.status
        issue.status, issue.fields = target, values
        issue.updated = self.now()
        status_item = {
            "field": "status",
            "fieldtype": "jira",
            "fieldId": "status",
            "from": old_status.id,
            "fromString": old_status.name,
            "to": target.id,
            "toString": target.name,
        }
        return issue, [status_item, *self.changelog(before, values)]

    def changelog_id(self) -> str:
        """A new changelog id, for a webhook's ``changelog``."""
        self._next_changelog_id += 1
        return str(self._next_changelog_id - 1)

    def changelog(
        self, before: dict[str, Any], after: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """The changelog items between two versions of an issue's fields."""
        items = []
        for field_id, spec in self.fields.items():
            old, new = before.get(field_id), after.get(field_id)
            if old == new:
                continue
            from_id, from_text = self._shown(spec, old)
            to_id, to_text = self._shown(spec, new)
            items.append(
                {
                    "field": _CHANGELOG_NAMES.get(
                        field_id, spec.name if spec.custom else field_id
                    ),
                    "fieldtype": "custom" if spec.custom else "jira",
                    "fieldId": field_id,
                    "from": from_id,
                    "fromString": from_text,
                    "to": to_id,
                    "toString": to_text,
                }
            )
        return items

    def _shown(self, spec: Field, stored: Any) -> tuple[str | None, str | None]:
        """A stored value as a changelog writes it: an id and the text people see."""
        if stored is None:
            return None, None
        items = stored if isinstance(stored, list) else [stored]
        ids: list[str] = []
        texts: list[str] = []
        for item in items:
            if isinstance(item, dict) and item.get("type") == "doc":
                texts.append(adf_to_text(item))
            elif isinstance(item, dict):
                ids.append(str(item.get("id", "")))
                texts.append(str(item.get("value") or item.get("name") or ""))
            elif spec.kind in ("user", "users"):
                account = self.accounts.get(str(item))
                ids.append(
                    (account.username if self.server else account.account_id)
                    if account
                    else str(item)
                )
                texts.append(account.display_name if account else str(item))
            else:
                texts.append(str(item))
        # Jira lists labels with spaces between them, other lists with commas.
        joiner = " " if spec.kind == "labels" else ", "
        return (", ".join(ids) or None), joiner.join(texts)

    # --- Comments ---------------------------------------------------------------------

    def comment(self, key: str, comment_id: str) -> tuple[Issue, Comment]:
        issue = self.issue(key)
        for comment in issue.comments:
            if comment.id == comment_id:
                return issue, comment
        raise JiraRejection(404, [f"Can not find a comment for the id: {comment_id}."])

    def add_comment(self, key: str, body: Any, actor: Account) -> Comment:
        issue = self.issue(key)
        text = self._comment_body(body)
        stamp = self.now()
        comment = Comment(
            str(self._next_comment_id), actor.account_id, text, stamp, stamp
        )
        self._next_comment_id += 1
        issue.comments.append(comment)
        issue.updated = stamp
        return comment

    def edit_comment(
        self, key: str, comment_id: str, body: Any, actor: Account
    ) -> Comment:
        issue, comment = self.comment(key, comment_id)
        comment.body = self._comment_body(body)
        comment.update_author = actor.account_id
        comment.updated = issue.updated = self.now()
        return comment

    def delete_comment(self, key: str, comment_id: str) -> Comment:
        issue, comment = self.comment(key, comment_id)
        issue.comments.remove(comment)
        issue.updated = self.now()
        return comment

    def _comment_body(self, body: Any) -> Any:
        text = body.get("body") if isinstance(body, dict) else None
        if self.server:
            if not isinstance(text, str) or not text.strip():
                raise JiraRejection(
                    400, errors={"comment": "Comment body can not be empty!"}
                )
            shown = text
        elif not is_adf_document(text) or _adf_problem(text):
            raise JiraRejection(
                400, ["The comment body must be an Atlassian Document Format document."]
            )
        else:
            shown = adf_to_text(text)
        if not shown.strip():
            raise JiraRejection(
                400, errors={"comment": "Comment body can not be empty!"}
            )
        try:
            return _within_text_limit(text, shown)
        except Problem as problem:
            raise JiraRejection(400, errors={"comment": str(problem)}) from None

    def search(self, jql: str) -> list[Issue]:
        """The issues a JQL query matches, in its order (by id when it gives none)."""
        try:
            query = parse_jql(jql)
        except JqlError as exc:
            raise JiraRejection(400, [str(exc)]) from None
        if not query.bounded:
            raise JiraRejection(
                400,
                ["Unbounded JQL queries are not allowed; add a search restriction."],
            )
        # Jira checks every field a query names, even when no issue would match.
        try:
            for clause in query.clauses:
                self._jql_reader(clause.field)
            order = [(self._order_key(name), down) for name, down in query.order]
        except JqlError as exc:
            raise JiraRejection(400, [str(exc)]) from None

        found = [issue for issue in self.issues.values() if self._matches(issue, query)]
        found.sort(key=lambda issue: int(issue.id))
        for key, descending in reversed(order):
            found.sort(key=key, reverse=descending)
        return found

    # --- Field rules ---------------------------------------------------------------

    def _project_of(self, reference: Any) -> Project:
        reference = _reference(reference)
        for project in self.projects.values():
            if (
                str(reference.get("id")) == project.id
                or reference.get("key") == project.key
            ):
                return project
        raise JiraRejection(
            400, errors={"project": "Specify a valid project id or key."}
        )

    def _field_on_screen(self, issue_type: IssueType, key: str) -> Field:
        if key not in issue_type.screen or key not in self.fields:
            raise Problem(
                f"Field {key!r} cannot be set: it is unknown or not on the screen of "
                f"issue type {issue_type.name}."
            )
        return self.fields[key]

    def _set(
        self,
        values: dict[str, Any],
        project: Project,
        issue_type: IssueType,
        key: str,
        value: Any,
    ) -> str | None:
        try:
            spec = self._field_on_screen(issue_type, key)
            stored = self._accept(spec, project, value)
        except Problem as problem:
            return str(problem)
        if stored is None:
            values.pop(key, None)
        else:
            values[key] = stored
        return None

    def _apply_update(
        self,
        values: dict[str, Any],
        project: Project,
        issue_type: IssueType,
        update: dict[str, Any],
        fields: dict[str, Any],
    ) -> dict[str, str]:
        errors: dict[str, str] = {}
        for key, operations in update.items():
            try:
                if key in fields:
                    raise Problem(
                        f"Field {key!r} cannot appear in both 'fields' and 'update'."
                    )
                spec = self._field_on_screen(issue_type, key)
                if not isinstance(operations, list):
                    raise Problem(
                        f"The update of {key!r} must be a list of operations."
                    )
                for operation in operations:
                    self._operate(values, project, spec, operation)
            except Problem as problem:
                errors[key] = str(problem)
        return errors

    def _operate(
        self, values: dict[str, Any], project: Project, spec: Field, operation: Any
    ) -> None:
        if not isinstance(operation, dict) or len(operation) != 1:
            raise Problem(
                "Each operation is one of {'set': v}, {'add': v}, {'remove': v}."
            )
        ((verb, argument),) = operation.items()
        if verb == "set":
            stored = self._accept(spec, project, argument)
            if stored is None:
                values.pop(spec.id, None)
            else:
                values[spec.id] = stored
            return
        if verb not in ("add", "remove") or spec.kind not in _ARRAY_KINDS:
            raise Problem(
                f"The operation {verb!r} is not supported on field {spec.id!r}."
            )
        (item,) = self._accept(spec, project, [argument])
        current = list(values.get(spec.id) or [])
        if verb == "add" and item not in current:
            current.append(item)
        if verb == "remove":
            current = [existing for existing in current if existing != item]
        values[spec.id] = current

    def _accept(self, spec: Field, project: Project, value: Any) -> Any:
        """The stored form of ``value`` for ``spec``; Problem when Jira refuses it."""
        kind = spec.kind
        if spec.id == "summary":
            return _summary(value)
        if value is None or value == []:
            return None
        if kind == "rich_text" and self.server:
            if not isinstance(value, str):
                raise Problem(
                    f"Field {spec.name!r} takes a string of wiki markup on this "
                    "version of the API."
                )
            return _within_text_limit(value, value)
        if kind == "rich_text":
            if not is_adf_document(value):
                raise Problem(
                    "The value must be an Atlassian Document Format document "
                    "(a JSON object with type 'doc'), not a plain string."
                )
            problem = _adf_problem(value)
            if problem:
                raise Problem(f"The Atlassian document is not valid: {problem}.")
            return _within_text_limit(value, adf_to_text(value))
        if kind == "text":
            if not isinstance(value, str):
                raise Problem(f"Field {spec.name!r} takes a string.")
            if jira_length(value) > SUMMARY_LIMIT:
                raise Problem(
                    f"Field {spec.name!r} holds at most {SUMMARY_LIMIT} characters."
                )
            return value
        if kind in ("option", "named", "user"):
            return self._accept_one(spec, project, value)
        if kind in _ARRAY_KINDS:
            if not isinstance(value, list):
                raise Problem(f"Field {spec.name!r} takes a list.")
            if kind == "labels":
                return [_label(label) for label in value]
            if kind == "strings":
                return [str(item) for item in value]
            return [self._accept_one(spec, project, item) for item in value]
        if kind == "date":
            if not isinstance(value, str) or not _DATE.fullmatch(value):
                raise Problem(f"Field {spec.name!r} takes a date as YYYY-MM-DD.")
            try:
                date.fromisoformat(value)
            except ValueError:
                raise Problem(f"{value!r} is not a calendar date.") from None
            return value
        if kind == "datetime":
            return _moment(spec, value)
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise Problem(f"Field {spec.name!r} takes a number.")
            return value
        raise Problem(f"Field {spec.id!r} cannot be set.")

    def _accept_one(self, spec: Field, project: Project, value: Any) -> Any:
        reference = value if isinstance(value, dict) else None
        if reference is None:
            raise Problem(
                f"Field {spec.name!r} takes an object, such as {{'id': ...}}."
            )
        kind_of_item = spec.schema.get("items") or spec.schema.get("type")
        if kind_of_item == "option":
            choices = spec.options or []
            return _pick(choices, reference, "value", f"option of {spec.name!r}")
        if kind_of_item == "priority":
            chosen = _pick(PRIORITIES, reference, "name", "priority")
            return {"id": chosen["id"], "name": chosen["name"]}
        if kind_of_item == "component":
            where = f"component of project {project.key}"
            return _pick(project.components, reference, "name", where)
        if kind_of_item == "version":
            where = f"version of project {project.key}"
            return _pick(project.versions, reference, "name", where)
        if kind_of_item == "resolution":
            chosen = _pick(RESOLUTIONS, reference, "name", "resolution")
            return {"id": chosen["id"], "name": chosen["name"]}
        if kind_of_item == "user" and self.server:
            account = self.account_by_username(str(reference.get("name")))
            if account is None or not account.active:
                raise Problem(f"User '{reference.get('name')}' does not exist.")
            return account.account_id
        if kind_of_item == "user":
            account_id = reference.get("accountId") or reference.get("id")
            account = self.accounts.get(str(account_id))
            if account is None or not account.active:
                raise Problem(f"Specify a valid, active user for {spec.name!r}.")
            return account.account_id
        raise Problem(f"Field {spec.id!r} cannot be set.")

    # --- JQL -------------------------------------------------------------------------

    def _matches(self, issue: Issue, query: Query) -> bool:
        for clause in query.clauses:
            read = self._jql_reader(clause.field)
            values = [value.casefold() for value in read(issue)]
            wanted = [None if v is None else v.casefold() for v in clause.values]
            if clause.op in ("=", "in"):
                hit = any(value in wanted for value in values)
            elif clause.op in ("!=", "not in"):
                hit = not any(value in wanted for value in values)
            elif clause.op == "~":
                hit = any(str(wanted[0]) in value for value in values)
            elif clause.op == "is":
                hit = not values
            else:
                hit = bool(values)
            if not hit:
                return False
        return True

    def _jql_reader(self, name: str) -> Callable[[Issue], list[str]]:
        """How to read the values a JQL field name means from an issue."""
        system: dict[str, Callable[[Issue], list[str]]] = {
            "project": lambda i: [i.project.key, i.project.id, i.project.name],
            "key": lambda i: [i.key, i.id],
            "issuekey": lambda i: [i.key, i.id],
            "id": lambda i: [i.key, i.id],
            "issuetype": lambda i: [i.issue_type.name, i.issue_type.id],
            "type": lambda i: [i.issue_type.name, i.issue_type.id],
            "status": lambda i: [i.status.name, i.status.id],
            "reporter": lambda i: self._user_values(i.reporter),
        }
        folded = name.casefold()
        if folded in system:
            return system[folded]
        for spec in self.fields.values():
            if folded in (n.casefold() for n in [*spec.clause_names, spec.name]):
                return lambda issue, spec=spec: self._stored_values(
                    spec, issue.fields.get(spec.id)
                )
        raise JqlError(f"Field {name!r} does not exist or you cannot search it.")

    def _stored_values(self, spec: Field, stored: Any) -> list[str]:
        if stored is None:
            return []
        items = stored if isinstance(stored, list) else [stored]
        out: list[str] = []
        for item in items:
            if isinstance(item, dict) and item.get("type") == "doc":
                out.append(adf_to_text(item))
            elif isinstance(item, dict):
                out.extend(str(item[k]) for k in ("value", "name", "id") if k in item)
            elif spec.kind in ("user", "users"):
                out.extend(self._user_values(item))
            else:
                out.append(str(item))
        return out

    def _user_values(self, account_id: str) -> list[str]:
        account = self.accounts.get(account_id)
        if account is None:
            return [account_id]
        return [account_id, account.email, account.username]

    def _order_key(self, name: str) -> Callable[[Issue], Any]:
        folded = name.casefold()
        if folded in ("created", "updated"):
            return lambda issue: getattr(issue, folded)
        if folded in ("key", "issuekey", "id"):
            return lambda issue: int(issue.id)
        raise JqlError(
            f"The emulator cannot order by {name!r}; use created, updated or key."
        )


def _fields_and_update(body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    if not isinstance(body, dict):
        raise JiraRejection(400, ["The request body must be a JSON object."])
    fields = body.get("fields") or {}
    update = body.get("update") or {}
    if not isinstance(fields, dict) or not isinstance(update, dict):
        raise JiraRejection(400, ["'fields' and 'update' must be JSON objects."])
    return fields, update


def _reference(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _summary(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Problem("You must give the issue a summary.")
    # Counted in UTF-16 code units, as Jira counts (see caspira_jira._text).
    if jira_length(value) > SUMMARY_LIMIT:
        raise Problem(
            f"The summary must be shorter than {SUMMARY_LIMIT + 1} characters."
        )
    if "\n" in value or "\r" in value:
        raise Problem("The summary cannot contain line breaks.")
    return value


def _within_text_limit(value: Any, text: str) -> Any:
    """``value`` when Jira holds ``text``, the form it counts; else a Problem.

    Server counts the wiki markup as sent; for a Cloud document the emulator counts
    its text, the reading of the limit that refuses least (see caspira_jira._text).
    """
    length = jira_length(text)
    if length > TEXT_LIMIT:
        raise Problem(
            f"The text is too long: Jira holds at most {TEXT_LIMIT:,} characters here "
            f"and this one has {length:,}."
        )
    return value


def _label(label: Any) -> str:
    if not isinstance(label, str) or not label:
        raise Problem("A label must be a non-empty string.")
    if any(ch.isspace() for ch in label):
        raise Problem(f"The label {label!r} contains spaces, which labels cannot hold.")
    if jira_length(label) > SUMMARY_LIMIT:
        raise Problem(f"The label {label[:20]!r}... is longer than {SUMMARY_LIMIT}.")
    return label


def _moment(spec: Field, value: Any) -> str:
    text = str(value)
    try:
        moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None
    if moment is None or moment.tzinfo is None:
        raise Problem(
            f"Field {spec.name!r} takes a date and time with an offset, "
            "such as 2026-01-16T19:52:55.000+0000."
        )
    return text


def _pick(
    choices: list[dict[str, str]], reference: dict[str, Any], attribute: str, what: str
) -> dict[str, str]:
    for choice in choices:
        if "id" in reference and str(reference["id"]) == choice["id"]:
            return choice
        if "id" not in reference and reference.get(attribute) == choice[attribute]:
            return choice
    given = reference.get("id", reference.get(attribute))
    raise Problem(f"{given!r} is not a valid {what}.")


def _adf_problem(node: Any, depth: int = 0) -> str | None:
    """What makes an ADF node invalid, or ``None``."""
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        return "every node is an object with a 'type'"
    kind = node["type"]
    if depth == 0:
        if kind != "doc" or node.get("version") != 1:
            return "the top node is {'type': 'doc', 'version': 1}"
    elif kind not in _ADF_BLOCKS and kind not in _ADF_INLINES:
        return f"unknown node type {kind!r}"
    if kind == "text":
        text = node.get("text")
        if not isinstance(text, str) or not text:
            return "a text node holds a non-empty 'text'"
        return None
    for child in node.get("content", []):
        problem = _adf_problem(child, depth + 1)
        if problem:
            return problem
    return None
