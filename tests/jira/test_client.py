"""How the client turns Jira's refusals and network trouble into caspira's errors."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from caspira_hookspecs import RemoteError, RetryableError
from caspira_jira import JiraClient, JiraPlugin, JiraSettings
from caspira_jira.emulator import EmulatedJira
from tests.jira.conftest import EMAIL, TOKEN, TOKEN_ENV, SpecCheckingTransport

pytestmark = pytest.mark.anyio

BUG = {"project": {"key": "APP"}, "issuetype": {"id": "10004"}, "summary": "Crash"}


@pytest.fixture
def listening_socket() -> Iterator[socket.socket]:
    """A loopback port that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_jiras_400_carries_its_message_and_names_the_field(
    plugin: JiraPlugin,
) -> None:
    fields = {**BUG, "description": "plain text is not ADF"}

    with pytest.raises(RemoteError) as caught:
        await plugin.client.create_issue(fields)

    error = caught.value
    assert type(error) is RemoteError
    assert (error.service, error.status, error.field) == ("jira", 400, "description")
    assert error.detail.startswith(
        "description: The value must be an Atlassian Document"
    )


async def test_server_error_is_retryable_after_the_wait_jira_asks(
    plugin: JiraPlugin, site: EmulatedJira
) -> None:
    site.add_fault(503, retry_after=7)

    with pytest.raises(RetryableError) as caught:
        await plugin.client.create_issue(BUG)

    assert (caught.value.status, caught.value.retry_after) == (503, 7.0)


async def test_rate_limit_longer_than_the_bound_is_retryable_after_the_wait_jira_asks(
    plugin: JiraPlugin, site: EmulatedJira
) -> None:
    site.add_fault(429, retry_after=30)

    with pytest.raises(RetryableError) as caught:
        await plugin.client.search_users("priya")

    assert (caught.value.status, caught.value.retry_after) == (429, 30.0)
    assert caught.value.detail == "Rate limit exceeded."


async def test_server_error_without_retry_after_leaves_the_wait_to_the_engine(
    plugin: JiraPlugin, site: EmulatedJira
) -> None:
    site.add_fault(502)

    with pytest.raises(RetryableError) as caught:
        await plugin.client.fields()

    assert caught.value.retry_after is None


async def test_wrong_token_is_refused_with_a_fix_that_does_not_show_the_token(
    transport: SpecCheckingTransport,
) -> None:
    settings = JiraSettings(
        site="https://jira.test", email=EMAIL, api_token_env=TOKEN_ENV
    )
    client = JiraClient(settings, "not-the-token", transport=transport)

    with pytest.raises(RemoteError) as caught:
        await client.myself()
    await client.aclose()

    message = str(caught.value)
    assert caught.value.status == 401
    assert EMAIL in message and TOKEN_ENV in message
    assert "not-the-token" not in message and TOKEN not in message


async def test_refused_connection_is_retryable(closed_port: int) -> None:
    site = f"http://127.0.0.1:{closed_port}"
    settings = JiraSettings(site=site, email=EMAIL, api_token_env=TOKEN_ENV)
    client = JiraClient(settings, TOKEN)

    with pytest.raises(RetryableError) as caught:
        await client.myself()
    await client.aclose()

    assert caught.value.status is None
    assert f"could not reach {site}" in caught.value.detail


async def test_silent_server_is_retryable_after_the_timeout(
    listening_socket: socket.socket,
) -> None:
    port = listening_socket.getsockname()[1]
    settings = JiraSettings(
        site=f"http://127.0.0.1:{port}",
        email=EMAIL,
        api_token_env=TOKEN_ENV,
        timeout_seconds=0.2,
    )
    client = JiraClient(settings, TOKEN)

    with pytest.raises(RetryableError) as caught:
        await client.myself()
    await client.aclose()

    assert "gave no answer within 0.2 s" in caught.value.detail


async def test_create_screen_pages_are_all_read(plugin: JiraPlugin) -> None:
    fields = await plugin.client.create_fields("APP", "10004")

    assert len(fields) == 22
    assert fields[-1]["fieldId"] == "customfield_10050"


async def test_answer_that_is_not_json_says_the_site_may_be_wrong() -> None:
    async def login_page(request: Request) -> HTMLResponse:
        return HTMLResponse("<html>Log in</html>")

    app = Starlette(routes=[Route("/rest/api/3/myself", login_page)])
    settings = JiraSettings(
        site="https://jira.test", email=EMAIL, api_token_env=TOKEN_ENV
    )
    client = JiraClient(settings, TOKEN, transport=httpx.ASGITransport(app=app))

    with pytest.raises(RemoteError) as caught:
        await client.myself()
    await client.aclose()

    assert type(caught.value) is RemoteError
    assert "answered with 'text/html', not JSON" in caught.value.detail


async def test_retry_after_given_as_a_date_becomes_seconds_from_now() -> None:
    later = datetime.now(UTC) + timedelta(seconds=30)

    async def busy(request: Request) -> JSONResponse:
        headers = {"Retry-After": format_datetime(later, usegmt=True)}
        return JSONResponse({"errorMessages": ["Busy."]}, 503, headers=headers)

    app = Starlette(routes=[Route("/rest/api/3/myself", busy)])
    settings = JiraSettings(
        site="https://jira.test", email=EMAIL, api_token_env=TOKEN_ENV
    )
    client = JiraClient(settings, TOKEN, transport=httpx.ASGITransport(app=app))

    with pytest.raises(RetryableError) as caught:
        await client.myself()
    await client.aclose()

    assert caught.value.retry_after is not None
    assert 25 <= caught.value.retry_after <= 30
    assert caught.value.detail == "Busy."
