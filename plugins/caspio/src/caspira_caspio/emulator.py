"""An in-memory emulator of Caspio's REST API v3, for tests and demos.

Not part of Caspio's API: ``GET /_emulator/state`` (a dump of everything held) and
the test seams of ``app.state.emulator``. Options and differences: :func:`create_app`.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, unquote

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from caspira_caspio._emulator_faults import (
    DROP_SCOPE_KEY,
    Faults,
    Injection,
    NoAnswer,
    drop_connection,
)
from caspira_caspio._emulator_query import QueryError, parse_select
from caspira_caspio._emulator_state import (
    EmulatorState,
    InjectedFault,
    Subscription,
    Webhook,
)
from caspira_caspio._emulator_tables import ApiError, Table

__all__ = [
    "MAX_REQUEST_URI",
    "EmulatorState",
    "Faults",
    "InjectedFault",
    "create_app",
]

#: Caspio's documented limit on the length of a request URI.
MAX_REQUEST_URI = 2047

API = "/integrations/rest/v3"

_Handler = Callable[[Request, EmulatorState], Awaitable[Response]]


def create_app(**options: str) -> Starlette:
    """A Starlette app emulating one Caspio account, state in ``app.state.emulator``.

    It answers ``POST /oauth/token`` and the ``/integrations/rest/v3`` tables,
    records and outgoing-webhook endpoints as Caspio documents them, and POSTs
    deliveries shaped like Caspio's. Options (strings, from ``--set key=value``):
    ``client_id`` ("caspira-demo"), ``client_secret`` ("caspira-demo-secret"),
    ``token_ttl`` seconds ("86399"), ``account_id`` ("c0demo01"),
    ``webhook_secret`` ("whsec-demo-0001": the ``Secret`` every new outgoing
    webhook gets, since Caspio's API offers no field to choose it),
    ``delivery_attempts`` ("3"), ``delivery_backoff`` seconds ("0.2"),
    ``timezone`` ("UTC": the account's time zone, which event dates and dates
    written with an offset are given in) and ``expired_token_status`` ("401", or
    "400" to answer ``IncorrectQueryParameter`` as some accounts do). Options
    named ``fault_<field>`` set the :class:`Faults` the account fails with, such as
    ``fault_rate_429=0.1``, ``fault_latency=0.05-0.2`` or ``fault_seed=7``.

    Where it differs from Caspio: outgoing webhooks may use ``http://`` loopback
    URLs (Caspio wants HTTPS); each API call is delivered at once, without
    CallThrottling batching; only changes made through this API trigger webhooks
    (event source ``RESTAPIs``); ``CustomPayloadTemplate``, ``q.groupBy``, views,
    attachments and files are not emulated; ``q.where`` knows the subset described
    in :func:`~caspira_caspio._emulator_query.compile_where`; a request URI over
    2,047 characters gets 414 (Caspio documents the limit, not the status); the
    error codes of 401 and 414 answers are the emulator's own naming.
    """
    state = EmulatorState.from_options(options)
    routes = [
        Route("/oauth/token", _token, methods=["POST"]),
        Route("/_emulator/state", _dump, methods=["GET"]),
        Route(f"{API}/tables", _api(_list_tables), methods=["GET"]),
        Route(f"{API}/tables", _api(_create_table), methods=["POST"]),
        Route(f"{API}/tables/{{table}}/fields", _api(_list_fields), methods=["GET"]),
        Route(f"{API}/tables/{{table}}/records", _api(_get_records), methods=["GET"]),
        Route(f"{API}/tables/{{table}}/records", _api(_post_record), methods=["POST"]),
        Route(f"{API}/tables/{{table}}/records", _api(_put_records), methods=["PUT"]),
        Route(
            f"{API}/tables/{{table}}/records", _api(_delete_records), methods=["DELETE"]
        ),
        Route(f"{API}/outgoingWebhooks", _api(_list_webhooks), methods=["GET"]),
        Route(f"{API}/outgoingWebhooks", _api(_post_webhook), methods=["POST"]),
        Route(f"{API}/outgoingWebhooks/{{hook}}", _api(_get_webhook), methods=["GET"]),
        Route(f"{API}/outgoingWebhooks/{{hook}}", _api(_put_webhook), methods=["PUT"]),
        Route(
            f"{API}/outgoingWebhooks/{{hook}}",
            _api(_delete_webhook),
            methods=["DELETE"],
        ),
        Route(
            f"{API}/outgoingWebhooks/{{hook}}/events",
            _api(_list_events),
            methods=["GET"],
        ),
        Route(
            f"{API}/outgoingWebhooks/{{hook}}/events",
            _api(_post_event),
            methods=["POST"],
        ),
        Route(
            f"{API}/outgoingWebhooks/{{hook}}/events/{{event}}",
            _api(_get_event),
            methods=["GET"],
        ),
        Route(
            f"{API}/outgoingWebhooks/{{hook}}/events/{{event}}",
            _api(_delete_event),
            methods=["DELETE"],
        ),
        Route(
            f"{API}/{{rest:path}}",
            _api(_not_found),
            methods=["GET", "POST", "PUT", "DELETE", "PATCH"],
        ),
    ]
    app = _EmulatorApp(routes=routes)
    app.state.emulator = state
    return app


class _EmulatorApp(Starlette):
    """Starlette, plus what ASGI has no message for: hanging up without an answer."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)
        if scope.get(DROP_SCOPE_KEY):
            await drop_connection(send)


# --- the request path every API call takes ------------------------------------


def _api(handler: _Handler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a handler in what Caspio does first: URI limit, token, request id.

    Injected faults strike before anything changes, except a lost write, whose
    answer is dropped after the write is done.
    """

    async def endpoint(request: Request) -> Response:
        state: EmulatorState = request.app.state.emulator
        target = _request_target(request)
        state.calls.append((request.method, target))
        injection = state.draw_faults(request.method, request.url.path)
        try:
            failed = await _inject(request, state, target, injection)
            if failed is not None:
                return failed
            if len(target) > MAX_REQUEST_URI:
                raise ApiError(
                    414,
                    "RequestUriTooLong",
                    f"The request URI is {len(target)} characters; the limit is "
                    f"{MAX_REQUEST_URI}",
                )
            fault = state.take_fault()
            if fault is not None:
                raise fault
            authorization = request.headers.get("Authorization")
            if injection.token_expiry and state.end_token_early(authorization):
                state.record_fault(request.method, target, "token_expiry")
            state.check_token(authorization)
            response = _tracked(await handler(request, state))
        except ApiError as exc:
            return _error(request, exc)

        lost = injection.lost_write and response.status_code < 400
        if lost and _is_record_write(request):
            state.record_fault(request.method, target, "lost_write")
            return NoAnswer()
        return response

    return endpoint


async def _inject(
    request: Request, state: EmulatorState, target: str, injection: Injection
) -> Response | None:
    """Wait the injected latency; answer the injected failure, if one was drawn."""
    if injection.delay:
        await anyio.sleep(injection.delay)
    if injection.drop:
        state.record_fault(request.method, target, "drop")
        return NoAnswer()
    if injection.status is None:
        return None

    state.record_fault(request.method, target, str(injection.status))
    retry_after = state.faults.retry_after
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    if injection.status == 429:
        return _error(
            request,
            ApiError(
                429,
                "TooManyRequests",
                "The account's API call limit is reached; retry later",
                headers=headers,
            ),
        )
    if injection.status == 500:
        return _error(request, ApiError(500, "InternalError", "Internal error"))
    # 502 and 503 come from the gateway in front of the API, as HTML pages.
    title = "502 Bad Gateway" if injection.status == 502 else "503 Service Unavailable"
    return HTMLResponse(
        f"<html><head><title>{title}</title></head>"
        f"<body><h1>{title}</h1></body></html>",
        status_code=injection.status,
        headers=headers if injection.status == 503 else None,
    )


def _is_record_write(request: Request) -> bool:
    return request.method != "GET" and request.url.path.endswith("/records")


def _request_target(request: Request) -> str:
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    target = raw_path.decode("latin-1")
    query = request.scope.get("query_string", b"").decode("latin-1")
    return f"{target}?{query}" if query else target


def _tracked(response: Response, request_id: str | None = None) -> Response:
    response.headers["X-Caspio-Request-ID"] = request_id or str(uuid.uuid4())
    return response


def _error(request: Request, exc: ApiError) -> Response:
    request_id = str(uuid.uuid4())
    body = {
        "Code": exc.code,
        "Message": exc.message,
        "Resource": str(request.url),
        "RequestId": request_id,
    }
    response = JSONResponse(body, status_code=exc.status, headers=exc.headers)
    return _tracked(response, request_id)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ApiError(
            400, "IncorrectBodyParameter", "The request body is not valid JSON"
        ) from None


def _query_int(request: Request, name: str, default: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise ApiError(
            400, "IncorrectQueryParameter", f"{name} must be a whole number"
        ) from None


def _query_flag(request: Request, name: str) -> bool:
    text = (request.query_params.get(name) or "false").lower()
    if text not in ("true", "false"):
        raise ApiError(400, "IncorrectQueryParameter", f"{name} must be true or false")
    return text == "true"


def _required_where(request: Request) -> str:
    where = request.query_params.get("q.where")
    if not where:
        raise ApiError(400, "IncorrectQueryParameter", "q.where is required")
    return where


# --- token --------------------------------------------------------------------


async def _token(request: Request) -> Response:
    state: EmulatorState = request.app.state.emulator
    injection = state.draw_faults(request.method, request.url.path)
    failed = await _inject(request, state, request.url.path, injection)
    if failed is not None:
        return failed
    form = {
        key: values[0]
        for key, values in parse_qs((await request.body()).decode("utf-8")).items()
    }
    client_id, client_secret = form.get("client_id"), form.get("client_secret")
    basic = _basic_credentials(request.headers.get("Authorization"))
    if basic is not None:
        client_id, client_secret = basic
    try:
        grant_type = form.get("grant_type")
        if grant_type == "client_credentials":
            answer = state.grant(client_id, client_secret)
        elif grant_type == "refresh_token":
            answer = state.refresh(form.get("refresh_token"))
        else:
            raise ApiError(
                400,
                "IncorrectBodyParameter",
                "grant_type must be client_credentials or refresh_token",
            )
    except ApiError as exc:
        return _error(request, exc)
    return _tracked(JSONResponse(answer, headers={"Cache-Control": "no-store"}))


def _basic_credentials(header: str | None) -> tuple[str, str] | None:
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, _, client_secret = decoded.partition(":")
    return unquote(client_id), unquote(client_secret)


# --- tables and records -------------------------------------------------------


async def _list_tables(request: Request, state: EmulatorState) -> Response:
    return JSONResponse({"Result": list(state.tables)})


async def _create_table(request: Request, state: EmulatorState) -> Response:
    body = await _json_body(request)
    if not isinstance(body, dict) or set(body) - {"Name", "Fields"}:
        raise ApiError(
            400, "IncorrectBodyParameter", 'The body must be {"Name", "Fields"}'
        )
    fields = body.get("Fields") or []
    if not isinstance(fields, list):
        raise ApiError(400, "IncorrectBodyParameter", "Fields must be a list")
    state.create_table(str(body.get("Name") or ""), fields)
    return Response(status_code=201)


async def _list_fields(request: Request, state: EmulatorState) -> Response:
    table = state.table(request.path_params["table"])
    return JSONResponse({"Result": [spec.describe() for spec in table.fields.values()]})


async def _get_records(request: Request, state: EmulatorState) -> Response:
    table = state.table(request.path_params["table"])
    if request.query_params.get("q.groupBy"):
        raise ApiError(
            400, "IncorrectQueryParameter", "q.groupBy is not supported by the emulator"
        )
    select = _selected(table, request.query_params.get("q.select"))
    rows = table.matching(
        request.query_params.get("q.where"), request.query_params.get("q.orderBy")
    )

    paged = any(
        request.query_params.get(name) for name in ("q.pageNumber", "q.pageSize")
    )
    if paged:
        size = _query_int(request, "q.pageSize", 25)
        number = _query_int(request, "q.pageNumber", 1)
        if not 5 <= size <= 1000:
            raise ApiError(
                400, "IncorrectQueryParameter", "q.pageSize must be from 5 to 1000"
            )
        if number < 1:
            raise ApiError(
                400, "IncorrectQueryParameter", "q.pageNumber must be 1 or more"
            )
        page = rows[(number - 1) * size : number * size]
    else:
        size = _query_int(request, "q.limit", 100)
        number = 1
        if not 1 <= size <= 1000:
            raise ApiError(
                400, "IncorrectQueryParameter", "q.limit must be from 1 to 1000"
            )
        page = rows[:size]

    body: dict[str, Any] = {"Result": [table.render(row, select) for row in page]}
    if _query_flag(request, "q.getPaginationInfo"):
        body["Pagination"] = {
            "TotalCount": len(rows),
            "PageNumber": number,
            "PageSize": size,
        }
    return JSONResponse(body)


async def _post_record(request: Request, state: EmulatorState) -> Response:
    table = state.table(request.path_params["table"])
    record = state.insert(table, await _json_body(request))
    if request.query_params.get("response") == "rows":
        return JSONResponse({"Result": [table.render(record)]}, status_code=201)
    return Response(status_code=201)


async def _put_records(request: Request, state: EmulatorState) -> Response:
    table = state.table(request.path_params["table"])
    where = _required_where(request)
    rows = state.update(table, where, await _json_body(request))
    body: dict[str, Any] = {"RecordsAffected": len(rows)}
    if request.query_params.get("response") == "rows":
        body["Result"] = [table.render(row) for row in rows]
    return JSONResponse(body)


async def _delete_records(request: Request, state: EmulatorState) -> Response:
    table = state.table(request.path_params["table"])
    count = state.delete(table, _required_where(request))
    return JSONResponse({"RecordsAffected": count})


def _selected(table: Table, text: str | None) -> list[str] | None:
    try:
        return parse_select(text, table.types)
    except QueryError as exc:
        raise ApiError(400, "SqlServerError", str(exc)) from None


# --- outgoing webhooks --------------------------------------------------------


def _webhook_summary(hook: Webhook, state: EmulatorState) -> dict[str, Any]:
    return {
        "Id": hook.id,
        "Status": "Active" if hook.enabled else "Inactive",
        "Name": hook.name,
        "Description": hook.description,
        "OutgoingUrls": hook.urls,
        "CallThrottling": hook.call_throttling,
        "LastModified": hook.modified,
        "ModifiedBy": state.client_id if hook.modified else None,
        "DateCreated": hook.created,
        "CreatedBy": state.client_id,
    }


def _event_summary(
    event: Subscription, state: EmulatorState, *, object_id: bool = True
) -> dict[str, Any]:
    answer = {
        "Id": event.id,
        "Type": event.event_type,
        "Status": "Active" if event.enabled else "Inactive",
        "ObjectName": event.table,
        "ObjectFields": event.object_fields,
        "EventSources": event.event_sources,
        "CustomPayloadFields": event.payload_fields,
        "CustomPayloadTemplate": None,
        "DateCreated": event.created,
        "CreatedBy": state.client_id,
    }
    if object_id:
        table = state.tables.get(event.table)
        answer["ObjectId"] = table.object_id if table else None
        answer["LastModified"] = event.modified
        answer["ModifiedBy"] = state.client_id if event.modified else None
    return answer


async def _list_webhooks(request: Request, state: EmulatorState) -> Response:
    return JSONResponse(
        [_webhook_summary(hook, state) for hook in state.webhooks.values()]
    )


async def _post_webhook(request: Request, state: EmulatorState) -> Response:
    hook = state.create_webhook(await _json_body(request))
    answer = {
        "Id": hook.id,
        "Name": hook.name,
        "Description": hook.description,
        "OutgoingUrls": hook.urls,
        "CallThrottling": hook.call_throttling,
        "Secret": hook.secret,
        "DateCreated": hook.created,
        "CreatedBy": state.client_id,
    }
    return JSONResponse(answer, status_code=201)


async def _get_webhook(request: Request, state: EmulatorState) -> Response:
    hook = state.webhook(request.path_params["hook"])
    answer = _webhook_summary(hook, state)
    answer.update(
        Events=len(hook.events),
        Messages=hook.messages,
        Calls=hook.calls,
        Errors=hook.errors,
    )
    return JSONResponse(answer)


async def _put_webhook(request: Request, state: EmulatorState) -> Response:
    hook = state.change_webhook(
        state.webhook(request.path_params["hook"]), await _json_body(request)
    )
    return JSONResponse(_webhook_summary(hook, state))


async def _delete_webhook(request: Request, state: EmulatorState) -> Response:
    hook = state.webhook(request.path_params["hook"])
    del state.webhooks[hook.id]
    return Response(status_code=204)


async def _list_events(request: Request, state: EmulatorState) -> Response:
    hook = state.webhook(request.path_params["hook"])
    return JSONResponse(
        [_event_summary(event, state) for event in hook.events.values()]
    )


async def _post_event(request: Request, state: EmulatorState) -> Response:
    hook = state.webhook(request.path_params["hook"])
    event = state.add_event(hook, await _json_body(request))
    return JSONResponse(_event_summary(event, state, object_id=False), status_code=201)


async def _get_event(request: Request, state: EmulatorState) -> Response:
    event = _event(request, state)
    answer = _event_summary(event, state)
    answer.update(Messages=event.messages, Calls=event.calls, Errors=event.errors)
    return JSONResponse(answer)


async def _delete_event(request: Request, state: EmulatorState) -> Response:
    hook = state.webhook(request.path_params["hook"])
    del hook.events[_event(request, state).id]
    return Response(status_code=204)


def _event(request: Request, state: EmulatorState) -> Subscription:
    hook = state.webhook(request.path_params["hook"])
    event = hook.events.get(request.path_params["event"])
    if event is None:
        raise ApiError(
            404,
            "ObjectNotFound",
            f"Event {request.path_params['event']!r} was not found",
        )
    return event


async def _not_found(request: Request, state: EmulatorState) -> Response:
    raise ApiError(
        404, "ObjectNotFound", f"{request.url.path} is not a resource of this emulator"
    )


async def _dump(request: Request) -> Response:
    return JSONResponse(request.app.state.emulator.dump())
