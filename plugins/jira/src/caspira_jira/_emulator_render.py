"""The emulated site as Jira's JSON: users, issues, fields, transitions, comments and
webhook bodies, shaped the Cloud (v3) or the Server (v2) way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from caspira_jira._emulator_hooks import Webhook
from caspira_jira._emulator_site import (
    PRIORITIES,
    RESOLUTIONS,
    Account,
    Comment,
    EmulatedJira,
    Field,
    Issue,
    IssueType,
    Project,
    Status,
    Transition,
)

__all__ = ["Call", "api_root", "select_fields"]


class Call:
    """What a handler needs besides the request: the site, the caller, link roots;
    and the site's things rendered as Jira's JSON, the Cloud or the Server way."""

    def __init__(self, site: EmulatedJira, actor: Account, base: str):
        self.site = site
        self.actor = actor
        self.base = base
        self.api = base + api_root(site)

    # --- Rendering the site as Jira's JSON -------------------------------------

    def user(self, account: Account) -> dict[str, Any]:
        if self.site.server:
            return {
                "self": f"{self.api}/user?username={account.username}",
                "name": account.username,
                "key": account.username,
                "emailAddress": account.email,
                "displayName": account.display_name,
                "active": account.active,
                "timeZone": account.time_zone,
            }
        return {
            "self": f"{self.api}/user?accountId={account.account_id}",
            "accountId": account.account_id,
            "accountType": account.account_type,
            "emailAddress": account.email,
            "displayName": account.display_name,
            "active": account.active,
            "timeZone": account.time_zone,
        }

    def user_ref(self, account_id: str) -> dict[str, Any]:
        account = self.site.account(account_id)
        if account is None:
            return {"name" if self.site.server else "accountId": account_id}
        return self.user(account)

    def issue_type(self, issue_type: IssueType) -> dict[str, Any]:
        return {
            "self": f"{self.api}/issuetype/{issue_type.id}",
            "id": issue_type.id,
            "name": issue_type.name,
            "description": issue_type.description,
            "iconUrl": f"{self.base}/images/icons/issuetypes/{issue_type.id}.png",
            "subtask": False,
            "hierarchyLevel": 0,
        }

    def priority(self, priority: dict[str, str]) -> dict[str, Any]:
        return {
            "self": f"{self.api}/priority/{priority['id']}",
            "iconUrl": f"{self.base}/images/icons/priorities/{priority['id']}.svg",
            "name": priority["name"],
            "id": priority["id"],
        }

    def component(self, component: dict[str, str]) -> dict[str, Any]:
        return {
            "self": f"{self.api}/component/{component['id']}",
            "id": component["id"],
            "name": component["name"],
        }

    def version(self, version: dict[str, str]) -> dict[str, Any]:
        return {
            "self": f"{self.api}/version/{version['id']}",
            "id": version["id"],
            "name": version["name"],
            "archived": False,
            "released": False,
        }

    def resolution(self, resolution: dict[str, str]) -> dict[str, Any]:
        known = next((r for r in RESOLUTIONS if r["id"] == resolution["id"]), {})
        return {
            "self": f"{self.api}/resolution/{resolution['id']}",
            "id": resolution["id"],
            "name": resolution["name"],
            "description": known.get("description", ""),
        }

    def option(self, option: dict[str, str]) -> dict[str, Any]:
        return {
            "self": f"{self.api}/customFieldOption/{option['id']}",
            "value": option["value"],
            "id": option["id"],
        }

    def status(self, status: Status) -> dict[str, Any]:
        category_ids = {"new": 2, "indeterminate": 4, "done": 3}
        category_names = {
            "new": "To Do",
            "indeterminate": "In Progress",
            "done": "Done",
        }
        return {
            "self": f"{self.api}/status/{status.id}",
            "id": status.id,
            "name": status.name,
            "statusCategory": {
                "self": f"{self.api}/statuscategory/{category_ids[status.category]}",
                "id": category_ids[status.category],
                "key": status.category,
                "name": category_names[status.category],
            },
        }

    def project_ref(self, project: Project) -> dict[str, Any]:
        return {
            "self": f"{self.api}/project/{project.id}",
            "id": project.id,
            "key": project.key,
            "name": project.name,
            "projectTypeKey": "software",
            "simplified": False,
        }

    def field(self, spec: Field) -> dict[str, Any]:
        return {
            "id": spec.id,
            "key": spec.id,
            "name": spec.name,
            "custom": spec.custom,
            "orderable": spec.id not in ("status", "created", "updated"),
            "navigable": True,
            "searchable": True,
            "clauseNames": spec.clause_names,
            "schema": spec.schema,
        }

    def create_field(self, spec: Field, project: Project) -> dict[str, Any]:
        item: dict[str, Any] = {
            "fieldId": spec.id,
            "key": spec.id,
            "name": spec.name,
            "required": spec.id in ("summary", "issuetype", "project"),
            "schema": spec.schema,
            "operations": ["set", "add", "remove"]
            if spec.schema.get("type") == "array"
            else ["set"],
            "hasDefaultValue": spec.id == "priority",
        }
        allowed = self.allowed_values(spec, project)
        if allowed is not None:
            item["allowedValues"] = allowed
        if spec.id == "priority":
            item["defaultValue"] = self.priority(PRIORITIES[2])
        if spec.kind in ("user", "users"):
            parameter = "username" if self.site.server else "query"
            item["autoCompleteUrl"] = f"{self.api}/user/search?{parameter}="
        if spec.kind == "labels":
            item["autoCompleteUrl"] = f"{self.api}/label/suggest?query="
        return item

    def allowed_values(self, spec: Field, project: Project) -> list[Any] | None:
        kind = spec.schema.get("items") or spec.schema.get("type")
        if kind == "option":
            return [self.option(option) for option in spec.options or []]
        if kind == "priority":
            return [self.priority(priority) for priority in PRIORITIES]
        if kind == "component":
            return [self.component(component) for component in project.components]
        if kind == "version":
            return [self.version(version) for version in project.versions]
        if kind == "resolution":
            return [self.resolution(resolution) for resolution in RESOLUTIONS]
        if kind == "issuetype":
            return [self.issue_type(issue_type) for issue_type in project.issue_types]
        if kind == "project":
            return [self.project_ref(project)]
        return None

    def value(self, spec: Field | None, stored: Any) -> Any:
        """A stored field value as Jira answers it."""
        if spec is None or stored is None:
            return stored
        if isinstance(stored, list):
            return [self._item(spec, item) for item in stored]
        return self._item(spec, stored)

    def _item(self, spec: Field, stored: Any) -> Any:
        kind = spec.schema.get("items") or spec.schema.get("type")
        renderers: dict[str, Callable[[Any], Any]] = {
            "option": self.option,
            "priority": self.priority,
            "component": self.component,
            "version": self.version,
            "resolution": self.resolution,
            "user": self.user_ref,
        }
        render = renderers.get(str(kind))
        return render(stored) if render else stored

    def issue(self, issue: Issue, wanted: list[str] | None = None) -> dict[str, Any]:
        """An issue as ``GET /issue`` and search answer it, with the wanted fields."""
        every = {
            "summary": issue.fields.get("summary"),
            "issuetype": self.issue_type(issue.issue_type),
            "project": self.project_ref(issue.project),
            "status": self.status(issue.status),
            "created": issue.created,
            "updated": issue.updated,
            "reporter": self.user_ref(issue.reporter),
            "creator": self.user_ref(issue.reporter),
            "labels": [],
            "components": [],
            "description": None,
            "priority": self.priority(PRIORITIES[2]),
            "assignee": None,
            "resolution": None,
        }
        for field_id, stored in issue.fields.items():
            every[field_id] = self.value(self.site.fields.get(field_id), stored)
        body: dict[str, Any] = {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog",
            "id": issue.id,
            "self": f"{self.api}/issue/{issue.id}",
            "key": issue.key,
        }
        body["fields"] = select_fields(every, wanted)
        return body

    def comment(self, issue: Issue, comment: Comment) -> dict[str, Any]:
        return {
            "self": f"{self.api}/issue/{issue.id}/comment/{comment.id}",
            "id": comment.id,
            "author": self.user_ref(comment.author),
            "updateAuthor": self.user_ref(comment.update_author),
            "body": comment.body,
            "created": comment.created,
            "updated": comment.updated,
            "jsdPublic": True,
        }

    def transition(self, transition: Transition, expand: bool) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "id": transition.id,
            "name": transition.name,
            "to": self.status(self.site.status(transition.to)),
            "hasScreen": bool(transition.screen),
            "isGlobal": False,
            "isInitial": False,
            "isAvailable": True,
            "isConditional": False,
            "isLooped": False,
        }
        if expand:
            answer["fields"] = {
                field_id: self.screen_field(field_id, field_id in transition.required)
                for field_id in transition.screen
            }
        return answer

    def screen_field(self, field_id: str, required: bool) -> dict[str, Any]:
        spec = self.site.fields[field_id]
        item: dict[str, Any] = {
            "key": spec.id,
            "name": spec.name,
            "required": required,
            "schema": spec.schema,
            "operations": ["set"],
            "hasDefaultValue": False,
        }
        project = next(iter(self.site.projects.values()))
        allowed = self.allowed_values(spec, project)
        if allowed is not None:
            item["allowedValues"] = allowed
        return item

    # --- Webhook bodies ------------------------------------------------------------

    def issue_event(
        self,
        event: str,
        type_name: str,
        issue: Issue,
        changes: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A ``jira:issue_*`` delivery's body; the changes were made by ``actor``."""
        body: dict[str, Any] = {
            "timestamp": self.site.epoch_ms(),
            "webhookEvent": event,
            "issue_event_type_name": type_name,
            "user": self.user(self.actor),
            "issue": self.issue(issue),
        }
        if changes:
            if self.site.server:
                # Jira Server's changelog items name the field, not its id.
                changes = [
                    {k: v for k, v in item.items() if k != "fieldId"}
                    for item in changes
                ]
            body["changelog"] = {"id": self.site.changelog_id(), "items": changes}
        return body

    def comment_event(
        self, event: str, issue: Issue, comment: Comment
    ) -> dict[str, Any]:
        """A ``comment_*`` delivery's body: the comment and a summary of its issue."""
        return {
            "timestamp": self.site.epoch_ms(),
            "webhookEvent": event,
            "comment": self.comment(issue, comment),
            "issue": {
                "id": issue.id,
                "self": f"{self.api}/issue/{issue.id}",
                "key": issue.key,
                "fields": {
                    "summary": issue.fields.get("summary"),
                    "status": self.status(issue.status),
                    "issuetype": self.issue_type(issue.issue_type),
                    "project": self.project_ref(issue.project),
                },
            },
        }

    def webhook(self, webhook: Webhook) -> dict[str, Any]:
        """An admin webhook as ``/rest/webhooks/1.0/webhook`` answers it (no secret)."""
        return {
            "self": f"{self.base}/rest/webhooks/1.0/webhook/{webhook.id}",
            "name": webhook.name,
            "url": webhook.url,
            "events": list(webhook.events),
            "filters": {"issue-related-events-section": webhook.jql},
            "excludeBody": webhook.exclude_body,
            "enabled": True,
            "lastUpdated": webhook.created,
            "lastUpdatedUser": webhook.updated_by,
        }

    def dynamic_webhook(self, webhook: Webhook) -> dict[str, Any]:
        """A webhook as ``GET /rest/api/3/webhook`` lists it."""
        answer: dict[str, Any] = {
            "id": webhook.id,
            "jqlFilter": webhook.jql,
            "events": list(webhook.events),
            "url": webhook.url,
            # Registrations through the REST API last 30 days.
            "expirationDate": webhook.created + 30 * 24 * 3600 * 1000,
        }
        if webhook.field_ids:
            answer["fieldIdsFilter"] = list(webhook.field_ids)
        return answer


def api_root(site: EmulatedJira) -> str:
    """Where the site's REST API lives: v2 on Server, v3 on Cloud."""
    return site.api_root


def select_fields(every: dict[str, Any], wanted: list[str] | None) -> dict[str, Any]:
    """The fields a ``fields`` parameter asks for (``*all``, ``*navigable``, ``-x``)."""
    wanted = wanted or ["*all"]
    included = [name for name in wanted if not name.startswith("-")]
    excluded = {name[1:] for name in wanted if name.startswith("-")}
    if not included or any(name in ("*all", "*navigable") for name in included):
        chosen = dict(every)
    else:
        chosen = {name: every[name] for name in included if name in every}
    return {name: value for name, value in chosen.items() if name not in excluded}
