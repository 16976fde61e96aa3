"""The emulator's seeds: the people, fields and projects a fresh site starts with."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from caspira_jira._emulator_model import Account, Field, IssueType, Project

if TYPE_CHECKING:
    from caspira_jira._emulator_site import EmulatedJira

__all__ = ["SEEDS"]

_CUSTOM = "com.atlassian.jira.plugin.system.customfieldtypes:"


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
        system("resolution", "Resolution", "resolution"),
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


SEEDS: dict[str, Callable[[EmulatedJira], None]] = {"demo": _seed_demo}
