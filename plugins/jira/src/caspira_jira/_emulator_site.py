"""The in-memory Jira site behind the emulator: its seed, its issues and Jira's rules;
a refused change raises ``JiraRejection`` with Jira's status and error body.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from caspira_jira._adf import is_adf_document
from caspira_jira._emulator_jql import JqlError, Query, parse_jql
from caspira_jira._fields import SUMMARY_LIMIT, field_kind

__all__ = [
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

_CUSTOM = "com.atlassian.jira.plugin.system.customfieldtypes:"
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


class JiraRejection(Exception):
    """A request Jira refuses: ``status`` and Jira's error body."""

    def __init__(
        self,
        status: int,
        messages: Sequence[str] = (),
        errors: dict[str, str] | None = None,
        *,
        headers: dict[str, str] | None = None,
    ):
        self.status = status
        self.messages = list(messages)
        self.errors = dict(errors or {})
        self.headers = dict(headers or {})
        super().__init__(
            f"{status}: {'; '.join([*self.messages, *self.errors.values()])}"
        )

    def body(self) -> dict[str, Any]:
        return {"errorMessages": self.messages, "errors": self.errors}


class _Problem(ValueError):
    """One field's value is refused; the message is what Jira says about it."""


@dataclass
class Account:
    account_id: str
    email: str
    display_name: str
    active: bool = True
    account_type: str = "atlassian"
    time_zone: str = "Europe/London"


@dataclass(frozen=True)
class Status:
    id: str
    name: str
    category: str  # "new", "indeterminate" or "done", as Jira's status categories


@dataclass(frozen=True)
class Transition:
    id: str
    name: str
    to: str


@dataclass
class Field:
    id: str
    name: str
    schema: dict[str, Any]
    options: list[dict[str, str]] | None = None

    @property
    def custom(self) -> bool:
        return self.id.startswith("customfield_")

    @property
    def kind(self) -> str:
        if self.schema.get("type") in ("issuetype", "project"):
            return self.schema["type"]
        return field_kind(self.schema)

    @property
    def clause_names(self) -> list[str]:
        if self.custom:
            return [f"cf[{self.id.removeprefix('customfield_')}]", self.name]
        return [self.id]


@dataclass
class IssueType:
    id: str
    name: str
    description: str
    screen: tuple[str, ...]


@dataclass
class Project:
    id: str
    key: str
    name: str
    lead: str
    issue_types: list[IssueType]
    components: list[dict[str, str]]
    versions: list[dict[str, str]]
    next_number: int = 1

    def issue_type(self, reference: dict[str, Any]) -> IssueType | None:
        for issue_type in self.issue_types:
            if str(reference.get("id")) == issue_type.id or (
                "id" not in reference and reference.get("name") == issue_type.name
            ):
                return issue_type
        return None


@dataclass
class Comment:
    id: str
    author: str
    body: Any
    created: str
    updated: str


@dataclass
class Issue:
    id: str
    key: str
    project: Project
    issue_type: IssueType
    status: Status
    fields: dict[str, Any]
    reporter: str
    created: str
    updated: str
    comments: list[Comment] = field(default_factory=list)


@dataclass
class Fault:
    """Answer the next ``remaining`` requests under ``path`` with ``status``."""

    status: int
    remaining: int
    retry_after: float | None = None
    path: str = "/rest/"


PRIORITIES = [
    {"id": "1", "name": "Highest", "statusColor": "#d04437"},
    {"id": "2", "name": "High", "statusColor": "#f15C75"},
    {"id": "3", "name": "Medium", "statusColor": "#f79232"},
    {"id": "4", "name": "Low", "statusColor": "#707070"},
    {"id": "5", "name": "Lowest", "statusColor": "#999999"},
]

STATUSES = [
    Status("10000", "To Do", "new"),
    Status("3", "In Progress", "indeterminate"),
    Status("10001", "Done", "done"),
]

TRANSITIONS = [
    Transition("11", "To Do", "10000"),
    Transition("21", "In Progress", "3"),
    Transition("31", "Done", "10001"),
]


class EmulatedJira:
    """One Jira Cloud site in memory; ``app.state.emulator`` in the emulator app."""

    def __init__(
        self,
        *,
        email: str = "caspira-bot@example.com",
        api_token: str = "caspira-demo-token",
        seed: str = "demo",
        base_url: str | None = None,
        search_page_size: int = 100,
        clock: Callable[[], datetime] | None = None,
    ):
        if seed not in _SEEDS:
            known = ", ".join(sorted(_SEEDS))
            raise ValueError(f"unknown seed {seed!r}; use one of: {known}")
        self.email = email
        self.api_token = api_token
        self.seed = seed
        self.base_url = base_url.rstrip("/") if base_url else None
        self.search_page_size = search_page_size
        self.clock = clock or (lambda: datetime.now(UTC))
        self.reset()

    def reset(self) -> None:
        """Forget every issue and fault and load the seed again."""
        self.accounts: dict[str, Account] = {}
        self.fields: dict[str, Field] = {}
        self.projects: dict[str, Project] = {}
        self.issues: dict[str, Issue] = {}
        self.faults: list[Fault] = []
        self._next_issue_id = 10001
        self._next_comment_id = 30001
        self.bot = Account(
            "712020:c0ffee00-0b07-4bbb-8ccc-000000000001", self.email, "Caspira Bot"
        )
        self.accounts[self.bot.account_id] = self.bot
        _SEEDS[self.seed](self)

    # --- Credentials and faults ----------------------------------------------------

    def accepts(self, email: str, token: str) -> bool:
        return email == self.email and token == self.api_token

    def add_fault(
        self,
        status: int,
        *,
        count: int = 1,
        retry_after: float | None = None,
        path: str = "/rest/",
    ) -> Fault:
        """Answer the next ``count`` API requests under ``path`` with ``status``."""
        fault = Fault(status, count, retry_after, path)
        self.faults.append(fault)
        return fault

    def take_fault(self, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.remaining > 0 and path.startswith(fault.path):
                fault.remaining -= 1
                return fault
        return None

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
            words = [account.email, account.display_name, *account.display_name.split()]
            if any(word.casefold().startswith(folded) for word in words):
                found.append(account)
        return found

    def status(self, status_id: str) -> Status:
        return next(status for status in STATUSES if status.id == status_id)

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

    def transitions(self, issue: Issue) -> list[Transition]:
        """The transitions open from the issue's status: to every other status."""
        return [t for t in TRANSITIONS if t.to != issue.status.id]

    def transition(self, key: str, body: Any) -> Issue:
        issue = self.issue(key)
        if not isinstance(body, dict) or not isinstance(body.get("transition"), dict):
            raise JiraRejection(
                400, ["Give the transition as {'transition': {'id': ...}}."]
            )
        if body.get("fields") or body.get("update"):
            raise JiraRejection(
                400,
                ["This workflow's transitions have no screen; fields cannot be set."],
            )
        wanted = str(body["transition"].get("id"))
        chosen = next((t for t in self.transitions(issue) if t.id == wanted), None)
        if chosen is None:
            raise JiraRejection(
                400, [f"Transition id {wanted!r} is not valid for issue {issue.key}."]
            )
        issue.status = self.status(chosen.to)
        issue.updated = self.now()
        return issue

    def add_comment(self, key: str, body: Any, actor: Account) -> Comment:
        issue = self.issue(key)
        text = body.get("body") if isinstance(body, dict) else None
        if not is_adf_document(text) or _adf_problem(text):
            raise JiraRejection(
                400, ["The comment body must be an Atlassian Document Format document."]
            )
        stamp = self.now()
        comment = Comment(
            str(self._next_comment_id), actor.account_id, text, stamp, stamp
        )
        self._next_comment_id += 1
        issue.comments.append(comment)
        issue.updated = stamp
        return comment

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
            raise _Problem(
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
        except _Problem as problem:
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
                    raise _Problem(
                        f"Field {key!r} cannot appear in both 'fields' and 'update'."
                    )
                spec = self._field_on_screen(issue_type, key)
                if not isinstance(operations, list):
                    raise _Problem(
                        f"The update of {key!r} must be a list of operations."
                    )
                for operation in operations:
                    self._operate(values, project, spec, operation)
            except _Problem as problem:
                errors[key] = str(problem)
        return errors

    def _operate(
        self, values: dict[str, Any], project: Project, spec: Field, operation: Any
    ) -> None:
        if not isinstance(operation, dict) or len(operation) != 1:
            raise _Problem(
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
            raise _Problem(
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
        """The stored form of ``value`` for ``spec``; _Problem when Jira refuses it."""
        kind = spec.kind
        if spec.id == "summary":
            return _summary(value)
        if value is None or value == []:
            return None
        if kind == "rich_text":
            if not is_adf_document(value):
                raise _Problem(
                    "The value must be an Atlassian Document Format document "
                    "(a JSON object with type 'doc'), not a plain string."
                )
            problem = _adf_problem(value)
            if problem:
                raise _Problem(f"The Atlassian document is not valid: {problem}.")
            return value
        if kind == "text":
            if not isinstance(value, str):
                raise _Problem(f"Field {spec.name!r} takes a string.")
            if len(value) > SUMMARY_LIMIT:
                raise _Problem(
                    f"Field {spec.name!r} holds at most {SUMMARY_LIMIT} characters."
                )
            return value
        if kind in ("option", "named", "user"):
            return self._accept_one(spec, project, value)
        if kind in _ARRAY_KINDS:
            if not isinstance(value, list):
                raise _Problem(f"Field {spec.name!r} takes a list.")
            if kind == "labels":
                return [_label(label) for label in value]
            if kind == "strings":
                return [str(item) for item in value]
            return [self._accept_one(spec, project, item) for item in value]
        if kind == "date":
            if not isinstance(value, str) or not _DATE.fullmatch(value):
                raise _Problem(f"Field {spec.name!r} takes a date as YYYY-MM-DD.")
            try:
                date.fromisoformat(value)
            except ValueError:
                raise _Problem(f"{value!r} is not a calendar date.") from None
            return value
        if kind == "datetime":
            return _moment(spec, value)
        if kind == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _Problem(f"Field {spec.name!r} takes a number.")
            return value
        raise _Problem(f"Field {spec.id!r} cannot be set.")

    def _accept_one(self, spec: Field, project: Project, value: Any) -> Any:
        reference = value if isinstance(value, dict) else None
        if reference is None:
            raise _Problem(
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
        if kind_of_item == "user":
            account_id = reference.get("accountId") or reference.get("id")
            account = self.accounts.get(str(account_id))
            if account is None or not account.active:
                raise _Problem(f"Specify a valid, active user for {spec.name!r}.")
            return account.account_id
        raise _Problem(f"Field {spec.id!r} cannot be set.")

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
                out.append(_adf_text(item))
            elif isinstance(item, dict):
                out.extend(str(item[k]) for k in ("value", "name", "id") if k in item)
            elif spec.kind in ("user", "users"):
                out.extend(self._user_values(item))
            else:
                out.append(str(item))
        return out

    def _user_values(self, account_id: str) -> list[str]:
        account = self.accounts.get(account_id)
        return [account_id, account.email] if account else [account_id]

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
        raise _Problem("You must give the issue a summary.")
    if len(value) > SUMMARY_LIMIT:
        raise _Problem(
            f"The summary must be shorter than {SUMMARY_LIMIT + 1} characters."
        )
    if "\n" in value or "\r" in value:
        raise _Problem("The summary cannot contain line breaks.")
    return value


def _label(label: Any) -> str:
    if not isinstance(label, str) or not label:
        raise _Problem("A label must be a non-empty string.")
    if any(ch.isspace() for ch in label):
        raise _Problem(
            f"The label {label!r} contains spaces, which labels cannot hold."
        )
    if len(label) > SUMMARY_LIMIT:
        raise _Problem(f"The label {label[:20]!r}... is longer than {SUMMARY_LIMIT}.")
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
        raise _Problem(
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
    raise _Problem(f"{given!r} is not a valid {what}.")


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


def _adf_text(node: dict[str, Any]) -> str:
    if node.get("type") == "text":
        return str(node.get("text", ""))
    if node.get("type") == "hardBreak":
        return "\n"
    separator = "\n\n" if node.get("type") == "doc" else ""
    return separator.join(_adf_text(child) for child in node.get("content", []))


def _seed_demo(site: EmulatedJira) -> None:
    """Project APP with Bug, Task and Story, a few custom fields and six people."""
    people = [
        (
            "712020:5b0c8d2e-aaaa-4bbb-8ccc-0d1e2f3a4b5c",
            "priya.nair@example.com",
            "Priya Nair",
        ),
        (
            "712020:8d3f1e6a-1111-4ccc-9ddd-2e3f4a5b6c7d",
            "dana.whitfield@example.com",
            "Dana Whitfield",
        ),
        (
            "712020:1a2b3c4d-2222-4ddd-8eee-3f4a5b6c7d8e",
            "marcus.oyelaran@example.com",
            "Marcus Oyelaran",
        ),
        (
            "712020:2b3c4d5e-3333-4eee-9fff-4a5b6c7d8e9f",
            "lena.kowalczyk@example.com",
            "Lena Kowalczyk",
        ),
        (
            "712020:3c4d5e6f-4444-4fff-8aaa-5b6c7d8e9fa0",
            "tomas.reyes@example.com",
            "Tomás Reyes",
        ),
        (
            "712020:4d5e6f70-5555-4aaa-9bbb-6c7d8e9fa0b1",
            "sam.patel@example.com",
            "Sam Patel",
        ),
    ]
    for account_id, email, name in people:
        site.accounts[account_id] = Account(account_id, email, name)
    # Sam left the company: the account exists but can no longer be assigned.
    site.accounts[people[-1][0]].active = False

    def options(first_id: int, *values: str) -> list[dict[str, str]]:
        return [{"id": str(first_id + n), "value": v} for n, v in enumerate(values)]

    def custom(
        number: int,
        name: str,
        kind: str,
        type_: str,
        items: str | None = None,
        choices: list[dict[str, str]] | None = None,
    ) -> Field:
        schema: dict[str, Any] = {
            "type": type_,
            "custom": _CUSTOM + kind,
            "customId": number,
        }
        if items:
            schema["items"] = items
        return Field(f"customfield_{number}", name, schema, choices)

    def system(field_id: str, name: str, type_: str, items: str | None = None) -> Field:
        schema: dict[str, Any] = {"type": type_, "system": field_id}
        if items:
            schema["items"] = items
        return Field(field_id, name, schema)

    all_fields = [
        system("summary", "Summary", "string"),
        system("description", "Description", "string"),
        system("environment", "Environment", "string"),
        system("issuetype", "Issue Type", "issuetype"),
        system("project", "Project", "project"),
        system("priority", "Priority", "priority"),
        system("components", "Components", "array", "component"),
        system("versions", "Affects versions", "array", "version"),
        system("fixVersions", "Fix versions", "array", "version"),
        system("labels", "Labels", "array", "string"),
        system("duedate", "Due date", "date"),
        system("assignee", "Assignee", "user"),
        system("reporter", "Reporter", "user"),
        system("status", "Status", "status"),
        system("created", "Created", "datetime"),
        system("updated", "Updated", "datetime"),
        custom(10040, "Environment", "textarea", "string"),
        custom(
            10041,
            "Customer Impact",
            "select",
            "option",
            choices=options(10100, "Low", "Medium", "High"),
        ),
        custom(10042, "Reporter Email", "textfield", "string"),
        custom(
            10043,
            "Affected Platforms",
            "multicheckboxes",
            "array",
            "option",
            options(10110, "iOS", "Android", "Web", "Desktop"),
        ),
        custom(
            10044,
            "Browsers",
            "multiselect",
            "array",
            "option",
            options(10120, "Chrome", "Firefox", "Safari", "Edge"),
        ),
        custom(10045, "Story Points", "float", "number"),
        custom(10046, "Found On", "datepicker", "date"),
        custom(10047, "QA Contact", "userpicker", "user"),
        custom(
            10048,
            "Severity",
            "radiobuttons",
            "option",
            choices=options(10130, "Blocker", "Major", "Minor"),
        ),
        custom(10049, "Internal Notes", "textarea", "string"),
        custom(10050, "Reported At", "datetime", "datetime"),
    ]
    site.fields = {spec.id: spec for spec in all_fields}

    common = (
        "summary",
        "issuetype",
        "project",
        "description",
        "priority",
        "labels",
        "assignee",
        "reporter",
        "components",
    )
    bug = (
        *common,
        "versions",
        "fixVersions",
        "duedate",
        *(
            f"customfield_{n}"
            for n in (
                10040,
                10041,
                10042,
                10043,
                10044,
                10045,
                10046,
                10047,
                10048,
                10050,
            )
        ),
    )
    site.projects["APP"] = Project(
        id="10000",
        key="APP",
        name="Customer App",
        lead=people[0][0],
        issue_types=[
            IssueType("10004", "Bug", "A problem that stops the app working.", bug),
            IssueType("10003", "Task", "A piece of work to do.", (*common, "duedate")),
            IssueType(
                "10002",
                "Story",
                "A feature told from a user's view.",
                (*common, "customfield_10045"),
            ),
        ],
        components=[
            {"id": "10200", "name": "Web Portal"},
            {"id": "10201", "name": "Mobile App"},
            {"id": "10202", "name": "API"},
            {"id": "10203", "name": "Billing"},
        ],
        versions=[
            {"id": "10300", "name": "4.0"},
            {"id": "10301", "name": "4.1"},
            {"id": "10302", "name": "4.1.1"},
        ],
    )


_SEEDS: dict[str, Callable[[EmulatedJira], None]] = {"demo": _seed_demo}
