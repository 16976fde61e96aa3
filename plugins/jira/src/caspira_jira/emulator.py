"""An in-memory Jira Cloud (REST v3) for tests and demos; its state is
``app.state.emulator``. Paths under ``/_emulator/`` are helpers, not Jira's API.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from caspira_jira._emulator_site import (
    PRIORITIES,
    STATUSES,
    Account,
    Comment,
    EmulatedJira,
    Field,
    Issue,
    IssueType,
    JiraRejection,
    Project,
    Status,
)

__all__ = ["EmulatedJira", "create_app"]

_API = "/rest/api/3"
_OPTIONS = ("email", "api_token", "seed", "base_url", "search_page_size")
_Handler = Callable[[Request, "_Call"], Awaitable[Response]]


def create_app(**options: str) -> Starlette:
    """A Starlette app emulating one Jira Cloud site.

    Options (all strings, as ``--set key=value`` gives them): ``email`` and
    ``api_token``, the Basic credentials it accepts (default
    ``caspira-bot@example.com`` / ``caspira-demo-token``); ``seed`` (``demo``);
    ``base_url`` for ``self`` links (default: the URL each request came to);
    ``search_page_size``, the most issues one search page holds (default 100).
    """
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise ValueError(
            f"unknown Jira emulator option(s) {unknown}; known: {', '.join(_OPTIONS)}"
        )
    try:
        page_size = int(options.get("search_page_size", "100"))
    except ValueError:
        raise ValueError(
            f"search_page_size {options['search_page_size']!r} is not a whole number"
        ) from None
    site = EmulatedJira(
        email=options.get("email", "caspira-bot@example.com"),
        api_token=options.get("api_token", "caspira-demo-token"),
        seed=options.get("seed", "demo"),
        base_url=options.get("base_url") or None,
        search_page_size=max(1, page_size),
    )

    def api(path: str, handler: _Handler, *methods: str) -> Route:
        return Route(_API + path, _endpoint(site, handler), methods=list(methods))

    routes = [
        api("/field", _fields, "GET"),
        api("/issue/createmeta/{project}/issuetypes", _create_issue_types, "GET"),
        api("/issue/createmeta/{project}/issuetypes/{type_id}", _create_fields, "GET"),
        api("/myself", _myself, "GET"),
        api("/user/search", _user_search, "GET"),
        api("/priority", _priorities, "GET"),
        api("/project/{project}", _project, "GET"),
        api("/issue", _create_issue, "POST"),
        api("/issue/{key}", _get_issue, "GET"),
        api("/issue/{key}", _edit_issue, "PUT"),
        api("/issue/{key}/transitions", _transitions, "GET"),
        api("/issue/{key}/transitions", _do_transition, "POST"),
        api("/issue/{key}/comment", _comments, "GET"),
        api("/issue/{key}/comment", _add_comment, "POST"),
        api("/search/jql", _search, "GET", "POST"),
        api("/search", _removed_search, "GET", "POST"),
        Route("/_emulator/issues", _extra(site, _extra_issues), methods=["GET"]),
        Route("/_emulator/faults", _extra(site, _extra_fault), methods=["POST"]),
        Route("/_emulator/reset", _extra(site, _extra_reset), methods=["POST"]),
    ]
    app = Starlette(routes=routes)
    app.state.emulator = site
    return app


class _Call:
    """What a handler needs besides the request: the site, the caller, link roots."""

    def __init__(self, site: EmulatedJira, actor: Account, base: str):
        self.site = site
        self.actor = actor
        self.base = base
        self.api = base + _API

    # --- Rendering the site as Jira's JSON -------------------------------------

    def user(self, account: Account) -> dict[str, Any]:
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
            return {"accountId": account_id}
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
            item["autoCompleteUrl"] = f"{self.api}/user/search?query="
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
        }
        for field_id, stored in issue.fields.items():
            every[field_id] = self.value(self.site.fields.get(field_id), stored)
        body: dict[str, Any] = {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog",
            "id": issue.id,
            "self": f"{self.api}/issue/{issue.id}",
            "key": issue.key,
        }
        body["fields"] = _select(every, wanted)
        return body

    def comment(self, issue: Issue, comment: Comment) -> dict[str, Any]:
        author = self.user_ref(comment.author)
        return {
            "self": f"{self.api}/issue/{issue.id}/comment/{comment.id}",
            "id": comment.id,
            "author": author,
            "updateAuthor": author,
            "body": comment.body,
            "created": comment.created,
            "updated": comment.updated,
            "jsdPublic": True,
        }


# --- Plumbing: authentication, faults, errors -----------------------------------------


def _endpoint(site: EmulatedJira, handler: _Handler) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        base = site.base_url or str(request.base_url).rstrip("/")
        try:
            fault = site.take_fault(request.url.path)
            if fault is not None:
                raise _fault_rejection(fault.status, fault.retry_after)
            actor = _authenticate(site, request)
            return await handler(request, _Call(site, actor, base))
        except JiraRejection as rejection:
            return JSONResponse(
                rejection.body(), rejection.status, headers=rejection.headers
            )

    return endpoint


def _extra(
    site: EmulatedJira, handler: Callable[[Request, EmulatedJira], Awaitable[Response]]
) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        return await handler(request, site)

    return endpoint


def _authenticate(site: EmulatedJira, request: Request) -> Account:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    email = token = ""
    if scheme.lower() == "basic":
        try:
            email, _, token = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            email = token = ""
    if not site.accepts(email, token):
        raise JiraRejection(
            401,
            ["Authentication failed: send Basic credentials, e-mail and API token."],
            headers={"WWW-Authenticate": 'Basic realm="protected-area"'},
        )
    return site.account_by_email(email) or site.bot


def _fault_rejection(status: int, retry_after: float | None) -> JiraRejection:
    headers = {}
    if retry_after is not None:
        headers["Retry-After"] = f"{retry_after:g}"
    if status == 429:
        headers["RateLimit-Reason"] = "jira-burst-based"
        message = "Rate limit exceeded."
    else:
        message = f"The emulator was told to answer {status}."
    return JiraRejection(status, [message], headers=headers)


async def _json_body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "")
    if "json" not in content_type:
        raise JiraRejection(415, ["Send the body as application/json."])
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        raise JiraRejection(400, ["The request body is not valid JSON."]) from None


def _select(every: dict[str, Any], wanted: list[str] | None) -> dict[str, Any]:
    """The fields a ``fields`` parameter asks for (``*all``, ``*navigable``, ``-x``)."""
    wanted = wanted or ["*all"]
    included = [name for name in wanted if not name.startswith("-")]
    excluded = {name[1:] for name in wanted if name.startswith("-")}
    if not included or any(name in ("*all", "*navigable") for name in included):
        chosen = dict(every)
    else:
        chosen = {name: every[name] for name in included if name in every}
    return {name: value for name, value in chosen.items() if name not in excluded}


def _field_list(values: list[str]) -> list[str]:
    return [
        name.strip() for value in values for name in value.split(",") if name.strip()
    ]


def _int(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise JiraRejection(
            400, [f"The parameter {name!r} must be a number."]
        ) from None


def _page(request: Request, items: list[Any], key: str) -> dict[str, Any]:
    start = max(0, _int(request, "startAt", 0))
    size = _int(request, "maxResults", 50)
    if size > 200:
        raise JiraRejection(400, ["The parameter 'maxResults' must not exceed 200."])
    size = max(1, size)
    return {
        key: items[start : start + size],
        "maxResults": size,
        "startAt": start,
        "total": len(items),
    }


# --- Handlers ---------------------------------------------------------------------


async def _fields(request: Request, call: _Call) -> Response:
    return JSONResponse([call.field(spec) for spec in call.site.fields.values()])


async def _create_issue_types(request: Request, call: _Call) -> Response:
    project = _project_for_meta(call, request.path_params["project"])
    types = [call.issue_type(t) for t in project.issue_types]
    return JSONResponse(_page(request, types, "issueTypes"))


async def _create_fields(request: Request, call: _Call) -> Response:
    project = _project_for_meta(call, request.path_params["project"])
    wanted = request.path_params["type_id"]
    issue_type = next((t for t in project.issue_types if t.id == wanted), None)
    if issue_type is None:
        raise JiraRejection(
            400, [f"Project {project.key} has no issue type {wanted!r}."]
        )
    fields = [
        call.create_field(call.site.fields[field_id], project)
        for field_id in issue_type.screen
    ]
    return JSONResponse(_page(request, fields, "fields"))


def _project_for_meta(call: _Call, key: str) -> Project:
    try:
        return call.site.project(key)
    except JiraRejection as missing:
        # These endpoints answer a missing project with 400, not 404.
        raise JiraRejection(400, missing.messages) from None


async def _myself(request: Request, call: _Call) -> Response:
    return JSONResponse(call.user(call.actor))


async def _user_search(request: Request, call: _Call) -> Response:
    query = request.query_params.get("query")
    account_id = request.query_params.get("accountId")
    if query is not None and account_id is not None:
        raise JiraRejection(400, ["Give either 'query' or 'accountId', not both."])
    if account_id is not None:
        account = call.site.account(account_id)
        found = [account] if account else []
    elif query is not None:
        found = call.site.find_accounts(query)
    else:
        raise JiraRejection(
            400, ["One of 'query', 'accountId' or 'property' is required."]
        )
    start = max(0, _int(request, "startAt", 0))
    size = max(1, _int(request, "maxResults", 50))
    return JSONResponse([call.user(a) for a in found[start : start + size]])


async def _priorities(request: Request, call: _Call) -> Response:
    answer = []
    for priority in PRIORITIES:
        answer.append(
            {
                **call.priority(priority),
                "statusColor": priority["statusColor"],
                "description": f"{priority['name']} priority.",
                "isDefault": priority["name"] == "Medium",
            }
        )
    return JSONResponse(answer)


async def _project(request: Request, call: _Call) -> Response:
    project = call.site.project(request.path_params["project"])
    lead = call.site.account(project.lead)
    body = {
        **call.project_ref(project),
        "description": "",
        "lead": call.user(lead) if lead else None,
        "components": [call.component(c) for c in project.components],
        "issueTypes": [call.issue_type(t) for t in project.issue_types],
        "versions": [call.version(v) for v in project.versions],
        "assigneeType": "UNASSIGNED",
        "style": "classic",
        "isPrivate": False,
    }
    return JSONResponse(body)


async def _create_issue(request: Request, call: _Call) -> Response:
    issue = call.site.create_issue(await _json_body(request), call.actor)
    return JSONResponse(
        {"id": issue.id, "key": issue.key, "self": f"{call.api}/issue/{issue.id}"},
        201,
    )


async def _get_issue(request: Request, call: _Call) -> Response:
    issue = call.site.issue(request.path_params["key"])
    wanted = _field_list(request.query_params.getlist("fields")) or ["*all"]
    return JSONResponse(call.issue(issue, wanted))


async def _edit_issue(request: Request, call: _Call) -> Response:
    call.site.edit_issue(request.path_params["key"], await _json_body(request))
    return Response(status_code=204)


async def _transitions(request: Request, call: _Call) -> Response:
    issue = call.site.issue(request.path_params["key"])
    answer = [
        {
            "id": transition.id,
            "name": transition.name,
            "to": call.status(next(s for s in STATUSES if s.id == transition.to)),
            "hasScreen": False,
            "isGlobal": True,
            "isInitial": False,
            "isAvailable": True,
            "isConditional": False,
            "isLooped": False,
        }
        for transition in call.site.transitions(issue)
    ]
    return JSONResponse({"transitions": answer})


async def _do_transition(request: Request, call: _Call) -> Response:
    call.site.transition(request.path_params["key"], await _json_body(request))
    return Response(status_code=204)


async def _comments(request: Request, call: _Call) -> Response:
    issue = call.site.issue(request.path_params["key"])
    comments = [call.comment(issue, comment) for comment in issue.comments]
    return JSONResponse(_page(request, comments, "comments"))


async def _add_comment(request: Request, call: _Call) -> Response:
    body = await _json_body(request)
    comment = call.site.add_comment(request.path_params["key"], body, call.actor)
    issue = call.site.issue(request.path_params["key"])
    return JSONResponse(call.comment(issue, comment), 201)


async def _search(request: Request, call: _Call) -> Response:
    if request.method == "POST":
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise JiraRejection(400, ["The request body must be a JSON object."])
        jql = str(body.get("jql") or "")
        fields = [str(name) for name in body.get("fields") or []]
        size = body.get("maxResults", 50)
        token = body.get("nextPageToken")
    else:
        jql = request.query_params.get("jql", "")
        fields = _field_list(request.query_params.getlist("fields"))
        size = _int(request, "maxResults", 50)
        token = request.query_params.get("nextPageToken")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise JiraRejection(400, ["'maxResults' must be a whole number."])

    found = call.site.search(jql)
    start = _read_token(token, jql) if token else 0
    size = min(max(1, size), call.site.search_page_size)
    page = found[start : start + size]
    answer: dict[str, Any] = {"issues": [_found(call, issue, fields) for issue in page]}
    if start + size < len(found):
        answer["nextPageToken"] = _make_token(start + size, jql)
        answer["isLast"] = False
    else:
        answer["isLast"] = True
    return JSONResponse(answer)


def _found(call: _Call, issue: Issue, fields: list[str]) -> dict[str, Any]:
    # Without fields (or with only "id") this API answers ids alone.
    if not [name for name in fields if name != "id"]:
        return {"id": issue.id}
    return call.issue(issue, fields)


def _make_token(offset: int, jql: str) -> str:
    raw = json.dumps({"at": offset, "q": hashlib.sha256(jql.encode()).hexdigest()[:16]})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _read_token(token: Any, jql: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(str(token).encode()))
        offset = int(data["at"])
        same_query = data["q"] == hashlib.sha256(jql.encode()).hexdigest()[:16]
    except (ValueError, KeyError, TypeError, binascii.Error):
        same_query = False
        offset = 0
    if not same_query or offset < 0:
        raise JiraRejection(400, ["The nextPageToken is not valid for this query."])
    return offset


async def _removed_search(request: Request, call: _Call) -> Response:
    raise JiraRejection(
        410,
        [
            "This search API has been removed; use /rest/api/3/search/jql, which "
            "pages with nextPageToken."
        ],
    )


# --- Emulator-only helpers (not part of Jira's API) --------------------------------


async def _extra_issues(request: Request, site: EmulatedJira) -> Response:
    """Every issue with its stored fields, for demos and tests to look at."""
    call = _Call(site, site.bot, site.base_url or str(request.base_url).rstrip("/"))
    return JSONResponse([call.issue(issue) for issue in site.issues.values()])


async def _extra_fault(request: Request, site: EmulatedJira) -> Response:
    """Make the next API calls fail, as ``{"status": 503, "retry_after": 2}`` asks."""
    try:
        body = json.loads(await request.body())
        fault = site.add_fault(
            int(body["status"]),
            count=int(body.get("count", 1)),
            retry_after=body.get("retry_after"),
            path=str(body.get("path", "/rest/")),
        )
    except (ValueError, KeyError, TypeError):
        example = {"status": 503, "count": 1, "retry_after": 2, "path": "/rest/"}
        return JSONResponse({"error": f"send a JSON object like {example}"}, 400)
    return JSONResponse({"status": fault.status, "remaining": fault.remaining}, 201)


async def _extra_reset(request: Request, site: EmulatedJira) -> Response:
    site.reset()
    return Response(status_code=204)
