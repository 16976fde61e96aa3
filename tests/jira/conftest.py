"""Fixtures for the Jira connector's tests: an emulator per test, reached through a
transport that checks every request and answer against Atlassian's OpenAPI description,
and a webhook receiver served by uvicorn on a loopback port.
"""

from __future__ import annotations

import asyncio
import json
import re
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import anyio.lowlevel
import httpx
import pytest
import uvicorn
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.exceptions import OpenAPIError
from openapi_core.templating.responses.exceptions import ResponseNotFound
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from werkzeug.datastructures import Headers, ImmutableMultiDict

from caspira_hookspecs import Flow, PluginContext
from caspira_jira import JiraPlugin, JiraSettings
from caspira_jira._ratelimit import Clock
from caspira_jira.emulator import EmulatedJira, create_app
from tests.conftest import SPECS

SITE = "https://jira.test"
EMAIL = "caspira-bot@example.com"
TOKEN = "caspira-demo-token"
TOKEN_ENV = "JIRA_API_TOKEN"

#: Answers the published description gets wrong, each checked another way:
#: the removed search API answers 410, which the description (still listing it as
#: deprecated) does not declare; and a 204 has no body, though the description
#: gives 204s a JSON content, so a 204 is checked to be empty instead.
UNDECLARED_ANSWERS = {
    ("get", "/rest/api/3/search", 410),
    ("post", "/rest/api/3/search", 410),
}


#: Paths the v3 description does not cover: the emulator's helpers and the admin
#: webhook API.
UNDESCRIBED_PATHS = ("/_emulator/", "/rest/webhooks/")


#: Any endpoint can answer 429 or 5xx, though most operations do not declare them;
#: where an operation does declare one, its answer is still checked.
def may_be_undeclared(status: int) -> bool:
    return status == 429 or status >= 500


#: Jira writes times as 2026-11-30T10:20:00.456+0000, an offset without a colon,
#: which the description's RFC 3339 ``date-time`` format refuses; real Jira does it.
JIRA_TIME = re.compile(
    r"'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}' is not a 'date-time'"
)


@pytest.fixture(scope="session")
def jira_openapi() -> OpenAPI:
    """Atlassian's description, read once; its placeholder server becomes SITE."""
    description = json.loads(
        (SPECS / "jira-cloud-platform.openapi.json").read_text(encoding="utf-8")
    )
    description["servers"] = [{"url": SITE}]
    # The description is the vendor's published data: checking it is not our test.
    return OpenAPI.from_dict(description, config=Config(spec_validator_cls=None))


class _OpenAPIRequest:
    def __init__(self, request: httpx.Request):
        self.host_url = f"{request.url.scheme}://{request.url.netloc.decode()}"
        self.path = request.url.path
        self.method = request.method.lower()
        self.body = request.content or None
        self.content_type = request.headers.get("content-type", "")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(request.url.params.multi_items()),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict(),
        )


class _OpenAPIResponse:
    def __init__(self, response: httpx.Response):
        self.status_code = response.status_code
        self.content_type = response.headers.get("content-type", "")
        self.headers = Headers(dict(response.headers))
        self.data = response.content or None


@dataclass
class Exchange:
    method: str
    path: str
    params: dict[str, str]
    body: Any
    status: int


@dataclass
class SpecCheckingTransport(httpx.AsyncBaseTransport):
    """Passes requests to ``inner`` and fails the test on any that break the spec.

    Every request and its answer are validated with openapi-core; ``exchanges``
    records them so tests can count calls. Without ``openapi`` (Jira Server, which
    has no description here) it only records.
    """

    inner: httpx.AsyncBaseTransport
    openapi: OpenAPI | None
    exchanges: list[Exchange] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        openapi = self.openapi
        # The admin webhook API (/rest/webhooks/1.0) is not in the v3 description.
        checked = openapi is not None and not request.url.path.startswith(
            UNDESCRIBED_PATHS
        )
        if openapi is not None and checked:
            self._check(
                "request",
                lambda: openapi.validate_request(_OpenAPIRequest(request)),
            )
        response = await self.inner.handle_async_request(request)
        await response.aread()
        method = request.method.lower()
        undeclared = (method, request.url.path, response.status_code)
        if response.status_code == 204:
            assert response.content == b"", "a 204 answer must have no body"
        elif openapi is not None and checked and undeclared not in UNDECLARED_ANSWERS:
            self._check(
                "answer",
                lambda: openapi.validate_response(
                    _OpenAPIRequest(request), _OpenAPIResponse(response)
                ),
            )
        self.exchanges.append(
            Exchange(
                request.method,
                request.url.path,
                dict(request.url.params),
                json.loads(request.content) if request.content else None,
                response.status_code,
            )
        )
        return response

    def count(self, method: str, path: str) -> int:
        return sum(1 for e in self.exchanges if (e.method, e.path) == (method, path))

    @staticmethod
    def _check(what: str, validate: Any) -> None:
        try:
            with warnings.catch_warnings():
                # openapi-core cannot check OAuth2, one of the ways Jira's description
                # allows; Basic auth, the one caspira uses, is still checked.
                warnings.filterwarnings("ignore", "Unsupported scheme type")
                validate()
        except OpenAPIError as exc:
            details = getattr(exc, "details", {})
            if isinstance(exc, ResponseNotFound) and may_be_undeclared(
                int(exc.http_status)
            ):
                return
            problems = details.get("schema_errors") if details else None
            if problems and all(JIRA_TIME.fullmatch(p["message"]) for p in problems):
                return
            raise AssertionError(
                f"{what} breaks the Jira description: {details or exc}"
            ) from exc


@pytest.fixture
def emulator_app() -> Starlette:
    return create_app()


@pytest.fixture
def site(emulator_app: Starlette) -> EmulatedJira:
    return emulator_app.state.emulator


@pytest.fixture
def transport(emulator_app: Starlette, jira_openapi: OpenAPI) -> SpecCheckingTransport:
    return SpecCheckingTransport(httpx.ASGITransport(app=emulator_app), jira_openapi)


@pytest.fixture
def settings() -> JiraSettings:
    return JiraSettings(site=SITE, email=EMAIL, api_token_env=TOKEN_ENV)


@pytest.fixture
def flow() -> Flow:
    return Flow(name="bugs", table="BugReports", project="APP", issue_type="Bug")


@pytest.fixture
async def plugin(
    settings: JiraSettings, flow: Flow, transport: SpecCheckingTransport
) -> AsyncIterator[JiraPlugin]:
    context = PluginContext(
        settings=settings,
        flows={flow.name: flow},
        secrets={TOKEN_ENV: TOKEN},
        transports={"jira": transport},
    )
    plugin = JiraPlugin(context)
    yield plugin
    await plugin.aclose()


@pytest.fixture
async def jira(transport: SpecCheckingTransport) -> AsyncIterator[httpx.AsyncClient]:
    """A raw client of the emulator, signed in as the bot, for the rejection tests."""
    async with httpx.AsyncClient(
        base_url=f"{SITE}/rest/api/3", auth=(EMAIL, TOKEN), transport=transport
    ) as client:
        yield client


@pytest.fixture
def caplog_jira(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level("DEBUG", logger="caspira_jira"):
        yield caplog


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: it keeps what it is sent and answers with
    the statuses in ``answers`` one by one, then 200."""

    url: str
    received: list[Received] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    # Module-wide, so that one receiver serves a whole module's tests.
    return "asyncio"


@pytest.fixture
async def receiver(served_receiver: Receiver) -> Receiver:
    """The module's receiver, with nothing received and no answers queued."""
    served_receiver.received.clear()
    served_receiver.answers.clear()
    return served_receiver


@pytest.fixture(scope="module")
async def served_receiver() -> AsyncIterator[Receiver]:
    state = Receiver(url="")

    async def hook(request: Request) -> Response:
        state.received.append(Received(dict(request.headers), await request.body()))
        return Response(status_code=state.answers.pop(0) if state.answers else 200)

    app = Starlette(routes=[Route("/hooks/jira", hook, methods=["POST"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    with anyio.fail_after(5):
        while not server.started:
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    state.url = f"http://127.0.0.1:{port}/hooks/jira"
    yield state
    server.should_exit = True
    await serving


class FakeClock(Clock):
    """Time that passes only when someone sleeps or a test moves it on.

    It starts at 2026-03-02 10:00:00 UTC, on the minute, as Jira's
    ``X-RateLimit-Reset`` is written to the minute; ``slept`` lists every sleep.
    """

    def __init__(self) -> None:
        self.start = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
        self.elapsed = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return 5000.0 + self.elapsed

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))
        self.elapsed += seconds
        await anyio.lowlevel.checkpoint()

    def advance(self, seconds: float) -> None:
        self.elapsed += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def share_clock(site: EmulatedJira, clock: FakeClock) -> None:
    """Make the emulator read (and sleep by) the test's clock."""
    site.clock = clock.now
    site.monotonic = clock.monotonic
    site.sleep = clock.sleep
