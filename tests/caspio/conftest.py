"""Fixtures for the Caspio connector: the emulator, a spec-checking transport, clients.

API exchanges are checked against Caspio's OpenAPI description; see ``caspio_spec``.
"""

from __future__ import annotations

import copy
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import anyio
import httpx
import pytest
import uvicorn
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from werkzeug.datastructures import Headers, ImmutableMultiDict

from caspira_caspio import CaspioClient
from caspira_caspio.emulator import EmulatorState, create_app
from tests.conftest import CASES, SPECS

#: The account the spec's ``servers`` names; the ASGI transport answers for any host.
ACCOUNT_URL = "https://c0abc123.caspio.com"
CLIENT_ID = "caspira-demo"
CLIENT_SECRET = "caspira-demo-secret"

#: Statuses Caspio answers that its description lists for no operation.
_UNDESCRIBED = frozenset({414, 429})

#: Records in these answers hold numbers, strings and null, not only objects.
_RECORD_SCHEMAS = ("GetRecordsResponse", "PostRecordsResponse", "PutRecordsResponse")


def caspio_spec(account_url: str = ACCOUNT_URL) -> dict[str, Any]:
    """Caspio's OpenAPI description with the few allowances these tests make.

    1. ``servers`` names the account under test instead of the placeholder.
    2. Record values may be any JSON value: the description types every field value
       as an object, but Caspio answers ``"PK_ID": 123`` (see the case files).

    :func:`check_exchange` makes two more: answers with a status the description
    never lists (414 for an over-long URI, which Caspio documents as a limit without
    a status; 429 and 5xx, which Caspio's error documentation names) and the empty
    201 of an insert without ``response=rows`` (described as a nullable JSON body,
    sent as no body at all) are not checked.
    """
    spec = json.loads((SPECS / "caspio-rest.openapi.json").read_text())
    spec = copy.deepcopy(spec)
    spec["servers"] = [{"url": f"{account_url}/integrations/rest"}]
    schemas = spec["components"]["schemas"]
    for name in _RECORD_SCHEMAS:
        schemas[name]["properties"]["Result"]["items"]["additionalProperties"] = {
            "nullable": True
        }
    return spec


@pytest.fixture(scope="session")
def caspio_openapi() -> OpenAPI:
    return OpenAPI.from_dict(caspio_spec())


class _SpecRequest:
    """An ``httpx.Request`` in the shape openapi-core reads."""

    def __init__(self, request: httpx.Request) -> None:
        url = request.url
        self.host_url = f"{url.scheme}://{url.netloc.decode()}"
        self.path = url.path
        self.method = request.method.lower()
        self.body = request.content or None
        self.content_type = request.headers.get("Content-Type", "")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(
                parse_qsl(url.query.decode(), keep_blank_values=True)
            ),
            header=Headers(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
        )


class _SpecResponse:
    """An ``httpx.Response`` in the shape openapi-core reads."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.headers = Headers(list(response.headers.items()))
        self.content_type = response.headers.get("Content-Type", "")
        self.data = response.content


def check_exchange(
    openapi: OpenAPI,
    request: httpx.Request,
    response: httpx.Response,
    *,
    check_request: bool = True,
) -> None:
    """Raise openapi-core's error when the pair breaks Caspio's description."""
    spec_request = _SpecRequest(request)
    if check_request:
        openapi.validate_request(spec_request)
    if response.status_code in _UNDESCRIBED or response.status_code >= 500:
        return
    if response.status_code == 201 and not response.content:
        return
    openapi.validate_response(spec_request, _SpecResponse(response))


class SpecCheckedTransport(httpx.AsyncBaseTransport):
    """Forwards to the emulator and checks every API exchange against the spec.

    ``check_requests=False`` lets a test send a request the spec forbids, to see how
    the emulator answers it; the answer is still checked.
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        openapi: OpenAPI,
        *,
        check_requests: bool = True,
    ) -> None:
        self.inner = inner
        self.openapi = openapi
        self.check_requests = check_requests
        self.checked = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        answer = await self.inner.handle_async_request(request)
        content = await answer.aread()
        response = httpx.Response(
            answer.status_code, headers=answer.headers, content=content, request=request
        )
        if request.url.path.startswith("/integrations/rest/"):
            check_exchange(
                self.openapi, request, response, check_request=self.check_requests
            )
            self.checked += 1
        return response


def bug_report_fields() -> list[dict[str, Any]]:
    """The ``Fields`` of a ``POST /v3/tables`` that recreates the case's BugReports."""
    described = json.loads((CASES / "caspio-fields-bugreports.json").read_text())
    fields = []
    for column in described["Result"]:
        if column["Name"] == "PK_ID":
            continue
        definition = {
            "Name": column["Name"],
            "Type": column["Type"],
            "Unique": column["Unique"],
        }
        if column["Type"] == "PREFIXED AUTONUMBER":
            definition.update(Prefix="BR-", Format="000001")
        if column["Type"] == "LIST-STRING":
            definition["ListField"] = ["Web Portal", "Mobile App"]
        fields.append(definition)
    return fields


@pytest.fixture
def emulator_options() -> dict[str, str]:
    return {"delivery_backoff": "0.01"}


@pytest.fixture
def emulator_app(emulator_options: dict[str, str]) -> Starlette:
    return create_app(**emulator_options)


@pytest.fixture
def emulator(emulator_app: Starlette) -> EmulatorState:
    return emulator_app.state.emulator


@pytest.fixture
def caspio_transport(
    emulator_app: Starlette, caspio_openapi: OpenAPI
) -> SpecCheckedTransport:
    return SpecCheckedTransport(httpx.ASGITransport(emulator_app), caspio_openapi)


@pytest.fixture
async def client(caspio_transport: SpecCheckedTransport) -> AsyncIterator[CaspioClient]:
    async with CaspioClient(
        ACCOUNT_URL, CLIENT_ID, CLIENT_SECRET, transport=caspio_transport
    ) as caspio:
        yield caspio


async def _token(transport: httpx.AsyncBaseTransport) -> str:
    async with httpx.AsyncClient(transport=transport, base_url=ACCOUNT_URL) as http:
        answer = await http.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
            },
        )
    return answer.json()["access_token"]


@pytest.fixture
async def api(
    caspio_transport: SpecCheckedTransport,
) -> AsyncIterator[httpx.AsyncClient]:
    """A plain HTTP client on ``/integrations/rest/v3``, holding a valid token."""
    token = await _token(caspio_transport)
    async with httpx.AsyncClient(
        transport=caspio_transport,
        base_url=f"{ACCOUNT_URL}/integrations/rest/v3",
        headers={"Authorization": f"Bearer {token}"},
    ) as http:
        yield http


@pytest.fixture
async def unchecked_api(
    emulator_app: Starlette, caspio_openapi: OpenAPI
) -> AsyncIterator[httpx.AsyncClient]:
    """Like ``api``, for requests the spec forbids; answers are still checked."""
    transport = SpecCheckedTransport(
        httpx.ASGITransport(emulator_app), caspio_openapi, check_requests=False
    )
    token = await _token(transport)
    async with httpx.AsyncClient(
        transport=transport,
        base_url=f"{ACCOUNT_URL}/integrations/rest/v3",
        headers={"Authorization": f"Bearer {token}"},
    ) as http:
        yield http


@pytest.fixture
async def bug_reports(api: httpx.AsyncClient) -> str:
    """Creates the case files' BugReports table in the emulator; answers its name."""
    answer = await api.post(
        "/tables", json={"Name": "BugReports", "Fields": bug_report_fields()}
    )
    assert answer.status_code == 201
    return "BugReports"


#: A comments table as a flow's ``comments.table`` expects it by default.
BUG_COMMENTS_FIELDS = [
    {"Name": "RecordID", "Type": "INTEGER"},
    {"Name": "Body", "Type": "TEXT"},
    {"Name": "Author", "Type": "STRING"},
]


@pytest.fixture
async def bug_comments(api: httpx.AsyncClient) -> str:
    """Creates a BugComments table (RecordID, Body, Author); answers its name."""
    answer = await api.post(
        "/tables", json={"Name": "BugComments", "Fields": BUG_COMMENTS_FIELDS}
    )
    assert answer.status_code == 201
    return "BugComments"


def closed_port() -> int:
    """A loopback port nothing listens on, for network failures."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Receiver:
    """A webhook receiver on a real loopback port; ``fail_first`` answers 500s first."""

    url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    fail_first: int = 0
    handler: Callable[[bytes], Awaitable[Any]] | None = None
    answers: list[Any] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()

    async def hook(request: Request) -> Response:
        body = await request.body()
        if state.fail_first > 0:
            state.fail_first -= 1
            return Response(status_code=500)
        state.bodies.append(json.loads(body))
        if state.handler is not None:
            state.answers.append(await state.handler(body))
        return Response(status_code=200)

    app = Starlette(routes=[Route("/hooks/caspio/{flow}", hook, methods=["POST"])])
    async with served(app) as base_url:
        state.url = f"{base_url}/hooks/caspio/bugs"
        yield state


@asynccontextmanager
async def served(app: Starlette) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free 127.0.0.1 port; yields its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"
        )
    )
    async with anyio.create_task_group() as tasks:
        tasks.start_soon(server.serve)
        while not server.started:
            await anyio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
        server.should_exit = True
