"""The things an emulated Jira site holds: accounts, fields, projects, issues, comments,
the workflow; and ``JiraRejection``, a refusal with Jira's status and error body.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from caspira_jira._fields import field_kind

__all__ = [
    "PRIORITIES",
    "RESOLUTIONS",
    "STATUSES",
    "TRANSITIONS",
    "Account",
    "Comment",
    "Field",
    "Issue",
    "IssueType",
    "JiraRejection",
    "Problem",
    "Project",
    "Status",
    "Transition",
]


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


class Problem(ValueError):
    """One field's value is refused; the message is what Jira says about it."""


@dataclass
class Account:
    """A person or the bot. Cloud knows it by ``account_id``, Server by ``username``
    (the local part of the e-mail address). ``token`` is the API token (Cloud) or
    personal access token (Server) it signs in with."""

    account_id: str
    email: str
    display_name: str
    active: bool = True
    account_type: str = "atlassian"
    time_zone: str = "Europe/London"
    token: str = ""

    def __post_init__(self) -> None:
        if not self.token:
            self.token = f"{self.username}-token"

    @property
    def username(self) -> str:
        return self.email.partition("@")[0]


@dataclass(frozen=True)
class Status:
    id: str
    name: str
    category: str  # "new", "indeterminate" or "done", as Jira's status categories


@dataclass(frozen=True)
class Transition:
    """A workflow step from any of the ``sources`` statuses to ``to``; ``screen``
    holds the fields it offers and ``required`` those it cannot be taken without."""

    id: str
    name: str
    sources: tuple[str, ...]
    to: str
    screen: tuple[str, ...] = ()
    required: tuple[str, ...] = ()


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
    update_author: str = ""

    def __post_init__(self) -> None:
        self.update_author = self.update_author or self.author


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

RESOLUTIONS = [
    {"id": "10000", "name": "Fixed", "description": "A fix for this issue is in."},
    {"id": "10001", "name": "Won't Do", "description": "This will not be worked on."},
    {"id": "10002", "name": "Duplicate", "description": "The problem is a duplicate."},
]

# To Do <-> In Progress <-> Done; reaching Done asks for a resolution.
TRANSITIONS = [
    Transition("21", "Start Progress", ("10000",), "3"),
    Transition("11", "Stop Progress", ("3",), "10000"),
    Transition(
        "31", "Done", ("3",), "10001", screen=("resolution",), required=("resolution",)
    ),
    Transition("41", "Reopen", ("10001",), "3"),
]
