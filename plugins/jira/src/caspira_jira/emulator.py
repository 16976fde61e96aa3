"""An in-memory Jira for tests and demos: Cloud (REST v3) by default, Server/Data Center
(REST v2) with ``deployment=server``; its state is ``app.state.emulator``. Paths under
``/_emulator/`` are helpers, not Jira's API.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from caspira_jira._emulator_faults import (
    DROP,
    FAULT_OPTIONS,
    DroppedConnection,
    FaultLayer,
    FaultPlan,
    QuietDrops,
)
from caspira_jira._emulator_hooks import Webhook
from caspira_jira._emulator_render import Call, api_root
from caspira_jira._emulator_site import (
    PRIORITIES,
    Account,
    Comment,
    EmulatedJira,
    Issue,
    JiraRejection,
    Project,
)
from caspira_jira._ratelimit import BURST

__all__ = [
    "DROP",
    "FAULT_OPTIONS",
    "WEBHOOK_EVENTS",
    "DroppedConnection",
    "EmulatedJira",
    "FaultPlan",
    "create_app",
]

_OPTIONS = (
    "email",
    "api_token",
    "seed",
    "base_url",
    "search_page_size",
    "deployment",
    "webhook_retry_delay",
    "webhook_retries",
    *FAULT_OPTIONS,
)
_QUIET_DROPS = QuietDrops()
_Handler = Callable[[Request, Call], Awaitable[Response]]

#: The events the emulator delivers.
WEBHOOK_EVENTS = (
    "jira:issue_created",
    "jira:issue_updated",
    "jira:issue_deleted",
    "comment_created",
    "comment_updated",
    "comment_deleted",
)


def create_app(**options: str) -> Starlette:
    """A Starlette app emulating one Jira site.

    Options (all strings, as ``--set key=value`` gives them): ``email`` and
    ``api_token``, the bot account and its token (default
    ``caspira-bot@example.com`` / ``caspira-demo-token``; every seeded person signs
    in with ``<local part of the e-mail>-token``); ``seed`` (``demo``);
    ``base_url`` for ``self`` links (default: the URL each request came to);
    ``search_page_size``, the most issues one search page holds (default 100);
    ``deployment``, ``cloud`` (REST v3, Basic e-mail:token) or ``server`` (REST
    v2, Bearer personal access tokens); ``webhook_retry_delay``, the seconds
    before a failed webhook delivery is first sent again (default 0.05, doubling
    after), and ``webhook_retries``, how often (default 3). ``FAULT_OPTIONS``
    make trouble: rate limits, server errors, latency, dropped connections, the
    per-issue write limit and lost create answers (see the README).
    """
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise ValueError(
            f"unknown Jira emulator option(s) {unknown}; known: {', '.join(_OPTIONS)}"
        )
    site = EmulatedJira(
        email=options.get("email", "caspira-bot@example.com"),
        api_token=options.get("api_token", "caspira-demo-token"),
        seed=options.get("seed", "demo"),
        base_url=options.get("base_url") or None,
        search_page_size=max(1, _number(options, "search_page_size", "100", int)),
        deployment=options.get("deployment", "cloud"),
        webhook_retry_delay=max(
            0.0, _number(options, "webhook_retry_delay", "0.05", float)
        ),
        webhook_retries=max(0, _number(options, "webhook_retries", "3", int)),
        fault_options={k: v for k, v in options.items() if k in FAULT_OPTIONS},
    )
    root = api_root(site)

    def api(path: str, handler: _Handler, *methods: str) -> Route:
        return Route(root + path, _endpoint(site, handler), methods=list(methods))

    def admin(path: str, handler: _Handler, *methods: str) -> Route:
        return Route(
            "/rest/webhooks/1.0" + path, _endpoint(site, handler), methods=list(methods)
        )

    def extra(path: str, handler: Any, *methods: str) -> Route:
        return Route("/_emulator" + path, _extra(site, handler), methods=list(methods))

    comment = "/issue/{key}/comment/{comment_id}"
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
        api("/issue/{key}", _delete_issue, "DELETE"),
        api("/issue/{key}/transitions", _transitions, "GET"),
        api("/issue/{key}/transitions", _do_transition, "POST"),
        api("/issue/{key}/comment", _comments, "GET"),
        api("/issue/{key}/comment", _add_comment, "POST"),
        api(comment, _get_comment, "GET"),
        api(comment, _edit_comment, "PUT"),
        api(comment, _delete_comment, "DELETE"),
        admin("/webhook", _register_admin, "POST"),
        admin("/webhook", _list_admin, "GET"),
        admin("/webhook/{webhook_id}", _get_admin, "GET"),
        admin("/webhook/{webhook_id}", _delete_admin, "DELETE"),
        extra("/issues", _extra_issues, "GET"),
        extra("/deliveries", _extra_deliveries, "GET"),
        extra("/faults", _extra_fault, "POST"),
        extra("/faults", _extra_clear_faults, "DELETE"),
        extra("/reset", _extra_reset, "POST"),
    ]
    if site.server:
        routes.append(api("/search", _offset_search, "GET", "POST"))
    else:
        routes += [
            api("/search/jql", _search, "GET", "POST"),
            api("/search", _removed_search, "GET", "POST"),
            api("/webhook", _register_dynamic, "POST"),
            api("/webhook", _list_dynamic, "GET"),
            api("/webhook", _delete_dynamic, "DELETE"),
        ]
    app = Starlette(routes=routes, middleware=[Middleware(FaultLayer, site=site)])
    app.state.emulator = site
    # uvicorn would log each dropped connection as a failure of the app.
    logging.getLogger("uvicorn.error").addFilter(_QUIET_DROPS)
    return app


def _number(options: dict[str, str], name: str, default: str, kind: type) -> Any:
    try:
        return kind(options.get(name, default))
    except ValueError:
        raise ValueError(
            f"{name} {options[name]!r} is not a {kind.__name__} number"
        ) from None


# --- Plumbing: authentication, faults, errors -----------------------------------------


def _endpoint(site: EmulatedJira, handler: _Handler) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        base = site.base_url or str(request.base_url).rstrip("/")
        try:
            actor = _authenticate(site, request)
            return await handler(request, Call(site, actor, base))
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
    """The account the request signs in as: Basic on Cloud, Bearer on Server."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    account = None
    if site.server:
        if scheme.lower() == "bearer":
            account = site.sign_in_with_token(credentials.strip())
        if account is None:
            raise JiraRejection(
                401,
                [
                    "Authentication failed: send a personal access token as "
                    "'Authorization: Bearer <token>'."
                ],
                headers={"WWW-Authenticate": 'Bearer realm="jira"'},
            )
        return account
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        email, _, token = decoded.partition(":")
        account = site.sign_in(email, token)
    if account is None:
        raise JiraRejection(
            401,
            ["Authentication failed: send Basic credentials, e-mail and API token."],
            headers={"WWW-Authenticate": 'Basic realm="protected-area"'},
        )
    return account


async def _json_body(request: Request) -> Any:
    content_type = request.headers.get("content-type", "")
    if "json" not in content_type:
        raise JiraRejection(415, ["Send the body as application/json."])
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        raise JiraRejection(400, ["The request body is not valid JSON."]) from None


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


async def _fields(request: Request, call: Call) -> Response:
    return JSONResponse([call.field(spec) for spec in call.site.fields.values()])


async def _create_issue_types(request: Request, call: Call) -> Response:
    project = _project_for_meta(call, request.path_params["project"])
    types = [call.issue_type(t) for t in project.issue_types]
    return JSONResponse(_page(request, types, _meta_key(call, "issueTypes")))


async def _create_fields(request: Request, call: Call) -> Response:
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
    return JSONResponse(_page(request, fields, _meta_key(call, "fields")))


def _meta_key(call: Call, cloud_key: str) -> str:
    # Data Center's per-project createmeta pages its items under "values".
    return "values" if call.site.server else cloud_key


def _project_for_meta(call: Call, key: str) -> Project:
    try:
        return call.site.project(key)
    except JiraRejection as missing:
        # These endpoints answer a missing project with 400, not 404.
        raise JiraRejection(400, missing.messages) from None


async def _myself(request: Request, call: Call) -> Response:
    return JSONResponse(call.user(call.actor))


async def _user_search(request: Request, call: Call) -> Response:
    if call.site.server:
        username = request.query_params.get("username")
        if not username:
            raise JiraRejection(400, ["The parameter 'username' is required."])
        found = call.site.find_accounts(username)
        start = max(0, _int(request, "startAt", 0))
        size = max(1, _int(request, "maxResults", 50))
        return JSONResponse([call.user(a) for a in found[start : start + size]])
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


async def _priorities(request: Request, call: Call) -> Response:
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


async def _project(request: Request, call: Call) -> Response:
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


async def _create_issue(request: Request, call: Call) -> Response:
    issue = call.site.create_issue(await _json_body(request), call.actor)
    body = call.issue_event("jira:issue_created", "issue_created", issue)
    call.site.publish("jira:issue_created", issue, body, [])
    return JSONResponse(
        {"id": issue.id, "key": issue.key, "self": f"{call.api}/issue/{issue.id}"},
        201,
    )


async def _get_issue(request: Request, call: Call) -> Response:
    issue = call.site.issue(request.path_params["key"])
    wanted = _field_list(request.query_params.getlist("fields")) or ["*all"]
    return JSONResponse(call.issue(issue, wanted))


async def _edit_issue(request: Request, call: Call) -> Response:
    body = await _json_body(request)
    before = dict(call.site.issue(request.path_params["key"]).fields)
    issue = call.site.edit_issue(request.path_params["key"], body)
    changes = call.site.changelog(before, issue.fields)
    if changes:
        _publish_update(call, issue, "issue_updated", changes)
    return Response(status_code=204)


async def _delete_issue(request: Request, call: Call) -> Response:
    issue = call.site.issue(request.path_params["key"])
    body = call.issue_event("jira:issue_deleted", "issue_deleted", issue)
    call.site.delete_issue(issue.key)
    call.site.publish("jira:issue_deleted", issue, body, [])
    return Response(status_code=204)


async def _transitions(request: Request, call: Call) -> Response:
    issue = call.site.issue(request.path_params["key"])
    expand = "transitions.fields" in request.query_params.get("expand", "")
    answer = [call.transition(t, expand) for t in call.site.transitions(issue)]
    return JSONResponse({"transitions": answer})


async def _do_transition(request: Request, call: Call) -> Response:
    body = await _json_body(request)
    issue, changes = call.site.transition(request.path_params["key"], body)
    # Jira names a workflow transition's event "issue_generic".
    _publish_update(call, issue, "issue_generic", changes)
    return Response(status_code=204)


def _publish_update(
    call: Call, issue: Issue, type_name: str, changes: list[dict[str, Any]]
) -> None:
    body = call.issue_event("jira:issue_updated", type_name, issue, changes)
    changed = [str(item.get("fieldId")) for item in changes]
    call.site.publish("jira:issue_updated", issue, body, changed)


async def _comments(request: Request, call: Call) -> Response:
    issue = call.site.issue(request.path_params["key"])
    comments = [call.comment(issue, comment) for comment in issue.comments]
    return JSONResponse(_page(request, comments, "comments"))


async def _add_comment(request: Request, call: Call) -> Response:
    body = await _json_body(request)
    comment = call.site.add_comment(request.path_params["key"], body, call.actor)
    issue = call.site.issue(request.path_params["key"])
    _publish_comment(call, "comment_created", issue, comment)
    return JSONResponse(call.comment(issue, comment), 201)


async def _get_comment(request: Request, call: Call) -> Response:
    issue, comment = call.site.comment(
        request.path_params["key"], request.path_params["comment_id"]
    )
    return JSONResponse(call.comment(issue, comment))


async def _edit_comment(request: Request, call: Call) -> Response:
    key, comment_id = request.path_params["key"], request.path_params["comment_id"]
    body = await _json_body(request)
    comment = call.site.edit_comment(key, comment_id, body, call.actor)
    issue = call.site.issue(key)
    _publish_comment(call, "comment_updated", issue, comment)
    return JSONResponse(call.comment(issue, comment))


async def _delete_comment(request: Request, call: Call) -> Response:
    key, comment_id = request.path_params["key"], request.path_params["comment_id"]
    comment = call.site.delete_comment(key, comment_id)
    _publish_comment(call, "comment_deleted", call.site.issue(key), comment)
    return Response(status_code=204)


def _publish_comment(call: Call, event: str, issue: Issue, comment: Comment) -> None:
    call.site.publish(event, issue, call.comment_event(event, issue, comment), [])


async def _search(request: Request, call: Call) -> Response:
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


def _found(call: Call, issue: Issue, fields: list[str]) -> dict[str, Any]:
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


async def _offset_search(request: Request, call: Call) -> Response:
    """Server's ``/search``: pages by ``startAt`` and says the ``total``."""
    if request.method == "POST":
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise JiraRejection(400, ["The request body must be a JSON object."])
        jql = str(body.get("jql") or "")
        fields = [str(name) for name in body.get("fields") or []]
        start, size = body.get("startAt", 0), body.get("maxResults", 50)
    else:
        jql = request.query_params.get("jql", "")
        fields = _field_list(request.query_params.getlist("fields"))
        start, size = _int(request, "startAt", 0), _int(request, "maxResults", 50)
    for name, value in (("startAt", start), ("maxResults", size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise JiraRejection(400, [f"'{name}' must be a whole number."])

    found = call.site.search(jql)
    size = min(max(1, size), call.site.search_page_size)
    page = found[start : start + size]
    return JSONResponse(
        {
            "expand": "schema,names",
            "startAt": start,
            "maxResults": size,
            "total": len(found),
            "issues": [call.issue(issue, fields or ["*navigable"]) for issue in page],
        }
    )


async def _removed_search(request: Request, call: Call) -> Response:
    raise JiraRejection(
        410,
        [
            "This search API has been removed; use /rest/api/3/search/jql, which "
            "pages with nextPageToken."
        ],
    )


# --- Webhook registration -------------------------------------------------------------


async def _register_dynamic(request: Request, call: Call) -> Response:
    """``POST /webhook``: one result per webhook asked for, in the order asked."""
    body = await _json_body(request)
    if not isinstance(body, dict) or not isinstance(body.get("webhooks"), list):
        raise JiraRejection(400, ["Give 'url' and a list of 'webhooks'."])
    url = _webhook_url(body.get("url"))
    results: list[dict[str, Any]] = []
    for details in body["webhooks"]:
        problems = _webhook_problems(call, details)
        if problems:
            results.append({"errors": problems})
            continue
        webhook = call.site.courier.register(
            kind="dynamic",
            url=url,
            events=tuple(details["events"]),
            jql=details["jqlFilter"],
            field_ids=tuple(details.get("fieldIdsFilter") or ()),
            updated_by=call.actor.account_id,
        )
        results.append({"createdWebhookId": webhook.id})
    return JSONResponse({"webhookRegistrationResult": results})


async def _list_dynamic(request: Request, call: Call) -> Response:
    hooks = [
        call.dynamic_webhook(webhook)
        for webhook in call.site.courier.webhooks.values()
        if webhook.kind == "dynamic"
    ]
    page = _page(request, hooks, "values")
    page["isLast"] = page["startAt"] + page["maxResults"] >= page["total"]
    return JSONResponse(page)


async def _delete_dynamic(request: Request, call: Call) -> Response:
    body = await _json_body(request)
    ids = body.get("webhookIds") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
        raise JiraRejection(400, ["Give the webhooks to remove as 'webhookIds'."])
    # Like Jira, ids of webhooks registered another way are ignored.
    hooks = call.site.courier.webhooks
    call.site.courier.remove(
        [i for i in ids if i in hooks and hooks[i].kind == "dynamic"]
    )
    return Response(status_code=202)


async def _register_admin(request: Request, call: Call) -> Response:
    """``POST /rest/webhooks/1.0/webhook``: a webhook that may carry a secret."""
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise JiraRejection(400, ["The request body must be a JSON object."])
    if not isinstance(body.get("name"), str) or not body["name"].strip():
        raise JiraRejection(400, errors={"name": "The webhook needs a name."})
    url = _webhook_url(body.get("url"))
    filters = body.get("filters") or {}
    jql = (
        filters.get("issue-related-events-section") if isinstance(filters, dict) else 0
    )
    if not isinstance(jql, str | None):
        raise JiraRejection(
            400,
            errors={"filters": "Give {'issue-related-events-section': '<JQL>'}."},
        )
    jql = jql or ""
    secret = body.get("secret")
    if secret is not None and not isinstance(secret, str):
        raise JiraRejection(400, errors={"secret": "The secret must be text."})
    problems = _webhook_problems(call, {"events": body.get("events"), "jqlFilter": jql})
    if problems:
        raise JiraRejection(400, problems)
    webhook = call.site.courier.register(
        kind="admin",
        url=url,
        name=body["name"],
        events=tuple(body["events"]),
        jql=jql,
        secret=secret or None,
        exclude_body=bool(body.get("excludeBody", False)),
        updated_by=call.actor.username if call.site.server else call.actor.account_id,
    )
    return JSONResponse(call.webhook(webhook), 201)


async def _list_admin(request: Request, call: Call) -> Response:
    return JSONResponse(
        [
            call.webhook(w)
            for w in call.site.courier.webhooks.values()
            if w.kind == "admin"
        ]
    )


async def _get_admin(request: Request, call: Call) -> Response:
    return JSONResponse(call.webhook(_admin_webhook(request, call)))


async def _delete_admin(request: Request, call: Call) -> Response:
    call.site.courier.remove([_admin_webhook(request, call).id])
    return Response(status_code=204)


def _admin_webhook(request: Request, call: Call) -> Webhook:
    raw = request.path_params["webhook_id"]
    webhook = call.site.courier.webhooks.get(int(raw)) if raw.isdigit() else None
    if webhook is None or webhook.kind != "admin":
        raise JiraRejection(404, [f"No webhook with id {raw}."])
    return webhook


def _webhook_url(url: Any) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise JiraRejection(400, errors={"url": "Give the webhook an http(s) URL."})
    return url


def _webhook_problems(call: Call, details: Any) -> list[str]:
    if not isinstance(details, dict):
        return ["Each webhook is an object with 'events' and 'jqlFilter'."]
    events = details.get("events")
    if not isinstance(events, list) or not events:
        return ["Give the webhook a non-empty list of 'events'."]
    unknown = [e for e in events if e not in WEBHOOK_EVENTS]
    if unknown:
        return [f"The event {unknown[0]!r} is not supported."]
    jql = details.get("jqlFilter")
    if not isinstance(jql, str):
        return ["Give the webhook a 'jqlFilter'."]
    problem = call.site.check_jql(jql)
    return [problem] if problem else []


# --- Emulator-only helpers (not part of Jira's API) --------------------------------


async def _extra_issues(request: Request, site: EmulatedJira) -> Response:
    """Every issue with its stored fields, for demos and tests to look at."""
    call = Call(site, site.bot, site.base_url or str(request.base_url).rstrip("/"))
    return JSONResponse([call.issue(issue) for issue in site.issues.values()])


async def _extra_deliveries(request: Request, site: EmulatedJira) -> Response:
    """Every webhook delivery so far: where it went, each try's answer, the outcome."""
    return JSONResponse(
        [
            {
                "webhook": delivery.webhook,
                "event": delivery.event,
                "identifier": delivery.identifier,
                "url": delivery.url,
                "outcome": delivery.outcome,
                "attempts": [
                    {"status": attempt.status, "error": attempt.error}
                    for attempt in delivery.attempts
                ],
            }
            for delivery in site.courier.deliveries
        ]
    )


async def _extra_fault(request: Request, site: EmulatedJira) -> Response:
    """Add a fault, as ``{"status": 503, "retry_after": 2}`` or ``{"status": "drop"}``
    asks; the keys are ``EmulatedJira.add_fault``'s."""
    example = {"status": 503, "count": 1, "retry_after": 2, "path": "/rest/"}
    try:
        body = json.loads(await request.body())
        status = body["status"]
        count = body.get("count", 1)
        fault = site.add_fault(
            status if status == DROP else int(status),
            count=None if count is None else int(count),
            retry_after=body.get("retry_after"),
            path=str(body.get("path", "/rest/")),
            rate=float(body.get("rate", 1.0)),
            reason=str(body.get("reason", BURST)),
            reset_after=body.get("reset_after"),
            writes_only=bool(body.get("writes_only", False)),
            after_commit=bool(body.get("after_commit", False)),
        )
    except (KeyError, TypeError, AttributeError):
        return JSONResponse({"error": f"send a JSON object like {example}"}, 400)
    except ValueError as problem:
        return JSONResponse({"error": f"{problem}; for example {example}"}, 400)
    return JSONResponse({"status": fault.status, "remaining": fault.remaining}, 201)


async def _extra_clear_faults(request: Request, site: EmulatedJira) -> Response:
    """No faults, latency or write limit from now on."""
    site.faults.clear()
    return Response(status_code=204)


async def _extra_reset(request: Request, site: EmulatedJira) -> Response:
    site.reset()
    return Response(status_code=204)
