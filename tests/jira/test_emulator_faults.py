"""The trouble the Jira emulator makes on request: 429s shaped like Jira's, 5xx,
latency, dropped connections, the per-issue write limit, lost create answers, all
reproducible from a seed and configurable by ``--set`` options."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from caspira_hookspecs import RetryableError
from caspira_jira import JiraClient, JiraSettings
from caspira_jira._emulator_faults import Fault
from caspira_jira.emulator import DROP, DroppedConnection, EmulatedJira, create_app
from tests.jira.conftest import (
    EMAIL,
    SITE,
    TOKEN,
    TOKEN_ENV,
    FakeClock,
    share_clock,
)

pytestmark = pytest.mark.anyio

BUG = {
    "fields": {
        "project": {"key": "APP"},
        "issuetype": {"id": "10004"},
        "summary": "Checkout button does nothing",
    }
}
EDIT = {"fields": {"summary": "Checkout button does nothing on iPad"}}


@asynccontextmanager
async def signed_in(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``app`` that does not check answers against the description,
    for the tests that make many calls (the shapes are checked elsewhere)."""
    async with httpx.AsyncClient(
        base_url=f"{SITE}/rest/api/3",
        auth=(EMAIL, TOKEN),
        transport=httpx.ASGITransport(app=app),
    ) as client:
        yield client


@pytest.fixture
async def quick(emulator_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with signed_in(emulator_app) as client:
        yield client


async def statuses_of(app: Starlette, calls: int) -> list[int]:
    async with signed_in(app) as jira:
        return [(await jira.get("/myself")).status_code for _ in range(calls)]


# --- Rate limits ----------------------------------------------------------------------


async def test_rate_limit_answer_carries_jiras_headers(
    jira: httpx.AsyncClient, site: EmulatedJira, clock: FakeClock
) -> None:
    share_clock(site, clock)
    clock.advance(30)
    site.add_fault(429, retry_after=45, reason="jira-quota-tenant-based")

    answer = await jira.get("/myself")

    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "45"
    assert answer.headers["RateLimit-Reason"] == "jira-quota-tenant-based"
    assert answer.headers["X-RateLimit-Reset"] == "2026-03-02T10:01Z"
    assert answer.json() == {"errorMessages": ["Rate limit exceeded."], "errors": {}}


async def test_rate_limit_reset_may_be_set_apart_from_retry_after(
    jira: httpx.AsyncClient, site: EmulatedJira, clock: FakeClock
) -> None:
    share_clock(site, clock)
    site.add_fault(429, reset_after=600, reason="jira-quota-global-based")

    answer = await jira.get("/myself")

    assert "Retry-After" not in answer.headers
    assert answer.headers["X-RateLimit-Reset"] == "2026-03-02T10:10Z"


async def test_retry_after_given_as_text_is_sent_as_it_is(
    jira: httpx.AsyncClient, site: EmulatedJira
) -> None:
    site.add_fault(429, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")

    answer = await jira.get("/myself")

    assert answer.headers["Retry-After"] == "Wed, 21 Oct 2015 07:28:00 GMT"
    assert "X-RateLimit-Reset" not in answer.headers


async def test_a_fault_without_a_count_fails_every_matching_request(
    jira: httpx.AsyncClient, site: EmulatedJira
) -> None:
    site.add_fault(429, count=None, path="/rest/api/3/user/search")

    refused = [(await jira.get("/user/search?query=p")).status_code for _ in range(5)]
    me = await jira.get("/myself")

    assert (refused, me.status_code) == ([429] * 5, 200)


async def test_a_writes_only_fault_spares_reads_and_searches(
    jira: httpx.AsyncClient, site: EmulatedJira
) -> None:
    site.add_fault(429, count=None, writes_only=True)

    read = await jira.get("/myself")
    search = await jira.post("/search/jql", json={"jql": "project = APP"})
    create = await jira.post("/issue", json=BUG)

    assert [read.status_code, search.status_code, create.status_code] == [
        200,
        200,
        429,
    ]


async def test_the_same_seed_fails_the_same_requests() -> None:
    options = {"fault_seed": "7", "rate_limit": "0.5"}

    first = await statuses_of(create_app(**options), 40)
    second = await statuses_of(create_app(**options), 40)

    assert first == second
    assert set(first) == {200, 429}


async def test_another_seed_fails_other_requests() -> None:
    first = await statuses_of(create_app(fault_seed="7", rate_limit="0.5"), 40)
    second = await statuses_of(create_app(fault_seed="8", rate_limit="0.5"), 40)

    assert first != second


async def test_a_rate_limit_option_can_be_kept_to_a_path() -> None:
    app = create_app(rate_limit="1", rate_limit_path="/rest/api/3/user/search")

    async with signed_in(app) as jira:
        search = await jira.get("/user/search?query=p")
        me = await jira.get("/myself")

    assert (search.status_code, me.status_code) == (429, 200)


# --- Server errors --------------------------------------------------------------------


async def test_server_errors_come_from_the_statuses_given() -> None:
    app = create_app(
        fault_seed="1",
        server_errors="1",
        server_error_statuses="502,503",
        server_error_retry_after="5",
    )

    async with signed_in(app) as jira:
        answers = [await jira.get("/myself") for _ in range(30)]

    assert {answer.status_code for answer in answers} == {502, 503}


async def test_only_the_503s_among_server_errors_carry_retry_after() -> None:
    app = create_app(
        fault_seed="1",
        server_errors="1",
        server_error_statuses="502,503",
        server_error_retry_after="5",
    )

    async with signed_in(app) as jira:
        answers = [await jira.get("/myself") for _ in range(30)]

    assert {
        (answer.status_code, answer.headers.get("Retry-After")) for answer in answers
    } == {(502, None), (503, "5")}


async def test_a_refused_create_makes_nothing(
    jira: httpx.AsyncClient, site: EmulatedJira
) -> None:
    site.add_fault(503, path="/rest/api/3/issue")

    answer = await jira.post("/issue", json=BUG)

    assert answer.status_code == 503
    assert site.issues == {}


# --- Latency --------------------------------------------------------------------------


def recorded_sleeps(site: EmulatedJira) -> list[float]:
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    site.sleep = sleep
    return delays


async def test_fixed_latency_delays_every_answer() -> None:
    app = create_app(latency="0.05")
    delays = recorded_sleeps(app.state.emulator)

    await statuses_of(app, 3)

    assert delays == [0.05, 0.05, 0.05]


async def test_latency_in_a_range_is_drawn_from_the_seed() -> None:
    apps = [create_app(latency="0.2..0.4", fault_seed="3") for _ in range(2)]
    delays = [recorded_sleeps(app.state.emulator) for app in apps]

    for app in apps:
        await statuses_of(app, 5)

    assert delays[0] == delays[1]
    assert all(0.2 <= delay <= 0.4 for delay in delays[0])
    assert len(set(delays[0])) == 5


async def test_latency_really_holds_the_answer_back() -> None:
    app = create_app(latency="0.1")

    started = anyio.current_time()
    await statuses_of(app, 1)

    assert anyio.current_time() - started >= 0.1


# --- Dropped connections --------------------------------------------------------------


async def test_dropped_connection_reaches_an_asgi_client_as_a_transport_error(
    jira: httpx.AsyncClient, site: EmulatedJira
) -> None:
    site.add_fault(DROP)

    with pytest.raises(httpx.TransportError) as caught:
        await jira.get("/myself")

    assert isinstance(caught.value, DroppedConnection)


async def test_a_create_whose_connection_drops_makes_nothing(
    jira: httpx.AsyncClient, site: EmulatedJira
) -> None:
    site.add_fault(DROP, path="/rest/api/3/issue")

    with pytest.raises(DroppedConnection):
        await jira.post("/issue", json=BUG)

    assert site.issues == {}


@pytest.fixture
async def served_jira(
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[tuple[EmulatedJira, str]]:
    """The emulator served by uvicorn on a loopback port, logging to the root."""
    app = create_app()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_config=None, lifespan="off"
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    with anyio.fail_after(5):
        while not server.started:
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield app.state.emulator, f"http://127.0.0.1:{port}"
    server.should_exit = True
    await serving


async def test_under_uvicorn_a_dropped_connection_is_retryable_for_the_client(
    served_jira: tuple[EmulatedJira, str],
) -> None:
    site, url = served_jira
    site.add_fault(DROP, path="/rest/api/3/myself")
    settings = JiraSettings(site=url, email=EMAIL, api_token_env=TOKEN_ENV)
    client = JiraClient(settings, TOKEN)

    with pytest.raises(RetryableError) as caught:
        await client.myself()
    me = await client.myself()
    await client.aclose()

    assert caught.value.status is None
    assert "RemoteProtocolError" in caught.value.detail
    assert me["emailAddress"] == EMAIL


async def test_under_uvicorn_a_dropped_connection_is_not_logged_as_an_app_failure(
    served_jira: tuple[EmulatedJira, str], caplog: pytest.LogCaptureFixture
) -> None:
    site, url = served_jira
    site.add_fault(DROP)

    with caplog.at_level(logging.INFO):
        async with httpx.AsyncClient(base_url=url) as raw:
            with pytest.raises(httpx.RemoteProtocolError):
                await raw.get("/rest/api/3/myself")

    assert "Exception in ASGI application" not in caplog.text


# --- The per-issue write limit -------------------------------------------------------


@pytest.fixture
async def limited_site(
    quick: httpx.AsyncClient, site: EmulatedJira, clock: FakeClock
) -> EmulatedJira:
    """A site enforcing Jira's per-issue write limit, with APP-1 and APP-2."""
    share_clock(site, clock)
    site.faults.issue_write_limit = True
    for _ in range(2):
        await quick.post("/issue", json=BUG)
    return site


async def test_the_21st_write_to_an_issue_within_two_seconds_is_refused(
    jira: httpx.AsyncClient, quick: httpx.AsyncClient, limited_site: EmulatedJira
) -> None:
    accepted = [
        (await quick.put("/issue/APP-1", json=EDIT)).status_code for _ in range(20)
    ]

    refused = await jira.put("/issue/APP-1", json=EDIT)

    assert accepted == [204] * 20
    assert refused.status_code == 429
    assert refused.headers["RateLimit-Reason"] == "jira-per-issue-on-write"
    assert refused.headers["Retry-After"] == "2"
    assert refused.headers["X-RateLimit-Reset"] == "2026-03-02T10:00Z"


async def test_the_write_limit_counts_each_issue_apart(
    jira: httpx.AsyncClient, quick: httpx.AsyncClient, limited_site: EmulatedJira
) -> None:
    for _ in range(20):
        await quick.put("/issue/APP-1", json=EDIT)

    other = await jira.put("/issue/APP-2", json=EDIT)
    read = await jira.get("/issue/APP-1")

    assert (other.status_code, read.status_code) == (204, 200)


async def test_the_write_limit_knows_an_issue_by_key_and_by_id(
    jira: httpx.AsyncClient, quick: httpx.AsyncClient, limited_site: EmulatedJira
) -> None:
    issue_id = limited_site.issue("APP-1").id
    for _ in range(10):
        await quick.put("/issue/APP-1", json=EDIT)
        await quick.post(f"/issue/{issue_id}/comment", json={"body": _comment()})

    refused = await jira.put(f"/issue/{issue_id}", json=EDIT)

    assert refused.status_code == 429


async def test_writes_are_accepted_again_once_two_seconds_have_passed(
    jira: httpx.AsyncClient,
    quick: httpx.AsyncClient,
    limited_site: EmulatedJira,
    clock: FakeClock,
) -> None:
    for _ in range(20):
        await quick.put("/issue/APP-1", json=EDIT)

    clock.advance(2)
    again = await jira.put("/issue/APP-1", json=EDIT)

    assert again.status_code == 204


async def test_the_101st_write_within_30_seconds_is_refused(
    jira: httpx.AsyncClient,
    quick: httpx.AsyncClient,
    limited_site: EmulatedJira,
    clock: FakeClock,
) -> None:
    for _ in range(5):
        for _ in range(20):
            assert (await quick.put("/issue/APP-1", json=EDIT)).status_code == 204
        clock.advance(2)

    refused = await jira.put("/issue/APP-1", json=EDIT)

    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "20"


async def test_without_the_write_limit_every_write_is_accepted(
    quick: httpx.AsyncClient,
) -> None:
    await quick.post("/issue", json=BUG)

    answers = [
        (await quick.put("/issue/APP-1", json=EDIT)).status_code for _ in range(25)
    ]

    assert answers == [204] * 25


def _comment() -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Hi"}]}],
    }


# --- Creates whose answer is lost after the commit ------------------------------------


async def test_a_create_dropped_after_the_commit_makes_the_issue(
    jira: httpx.AsyncClient, site: EmulatedJira
) -> None:
    site.add_fault(DROP, after_commit=True)

    with pytest.raises(DroppedConnection):
        await jira.post("/issue", json=BUG)

    assert [issue.key for issue in site.issues.values()] == ["APP-1"]


async def test_a_create_answered_503_after_the_commit_makes_the_issue(
    jira: httpx.AsyncClient, site: EmulatedJira
) -> None:
    site.add_fault(503, after_commit=True, retry_after=3)

    answer = await jira.post("/issue", json=BUG)

    assert (answer.status_code, answer.headers["Retry-After"]) == (503, "3")
    assert [issue.key for issue in site.issues.values()] == ["APP-1"]


async def test_an_after_commit_fault_waits_for_a_create_that_succeeds(
    jira: httpx.AsyncClient, site: EmulatedJira
) -> None:
    fault = site.add_fault(DROP, after_commit=True)

    refused = await jira.post("/issue", json={"fields": {"project": {"key": "APP"}}})
    edit_of_nothing = await jira.put("/issue/APP-9", json=EDIT)

    assert (refused.status_code, edit_of_nothing.status_code) == (400, 404)
    assert fault.remaining == 1


def test_a_4xx_cannot_come_after_the_commit(site: EmulatedJira) -> None:
    with pytest.raises(ValueError, match="Jira refuses with 4xx before making"):
        site.add_fault(429, after_commit=True)


# --- Options --------------------------------------------------------------------------


def test_options_describe_every_fault() -> None:
    app = create_app(
        fault_seed="3",
        dropped_connections="0.05",
        rate_limit="0.2",
        rate_limit_reason="jira-per-issue-on-write",
        rate_limit_retry_after="4",
        rate_limit_reset_after="60",
        rate_limit_path="/rest/api/3/issue",
        rate_limit_writes_only="yes",
        server_errors="0.1",
        server_error_statuses="503",
        server_error_retry_after="9",
        server_error_path="/rest/api/3/search",
        latency="0.01..0.02",
        issue_write_limit="true",
        create_fail_after_commit="0.5",
        create_fail_after_commit_as="503",
    )
    plan = app.state.emulator.faults

    assert plan.seed == 3
    assert plan.faults == [
        Fault(DROP, None, rate=0.05),
        Fault(
            429,
            None,
            retry_after=4.0,
            path="/rest/api/3/issue",
            rate=0.2,
            reason="jira-per-issue-on-write",
            reset_after=60.0,
            writes_only=True,
        ),
        Fault((503,), None, retry_after=9.0, path="/rest/api/3/search", rate=0.1),
        Fault(503, None, rate=0.5, after_commit=True),
    ]
    assert (plan.latency, plan.issue_write_limit) == ((0.01, 0.02), True)


def test_without_fault_options_the_emulator_makes_no_trouble() -> None:
    plan = create_app().state.emulator.faults

    assert (plan.faults, plan.latency, plan.issue_write_limit) == ([], (0, 0), False)


def test_rate_limit_options_default_to_a_one_second_burst() -> None:
    (fault,) = create_app(rate_limit="1").state.emulator.faults.faults

    assert (fault.reason, fault.retry_after, fault.path) == (
        "jira-burst-based",
        1.0,
        "/rest/",
    )


def test_rate_limit_retry_after_none_leaves_the_header_out() -> None:
    app = create_app(rate_limit="1", rate_limit_retry_after="none")

    assert app.state.emulator.faults.faults[0].retry_after is None


def test_a_lost_create_answer_is_a_dropped_connection_by_default() -> None:
    (fault,) = create_app(create_fail_after_commit="1").state.emulator.faults.faults

    assert (fault.status, fault.after_commit) == (DROP, True)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("fault_seed", "abc"),
        ("rate_limit", "1.5"),
        ("rate_limit", "often"),
        ("rate_limit_writes_only", "maybe"),
        ("server_error_statuses", "500,404"),
        ("latency", "0.5..0.1"),
        ("latency", "fast"),
        ("dropped_connections", "-0.1"),
        ("issue_write_limit", "2"),
        ("create_fail_after_commit_as", "timeout"),
    ],
)
def test_a_bad_fault_option_is_refused_naming_it(option: str, value: str) -> None:
    options = {option: value}
    if option == "create_fail_after_commit_as":
        options["create_fail_after_commit"] = "1"
    if option in ("rate_limit_writes_only",):
        options["rate_limit"] = "1"
    if option == "server_error_statuses":
        options["server_errors"] = "1"

    with pytest.raises(ValueError) as caught:
        create_app(**options)

    assert option in str(caught.value)
    assert repr(value) in str(caught.value) or value in str(caught.value)


def test_reset_puts_back_the_faults_the_options_set(site: EmulatedJira) -> None:
    app = create_app(rate_limit="0.5", fault_seed="4")
    emulator = app.state.emulator
    rolls = [emulator.faults.pick("GET", "/rest/api/3/myself", after_commit=False)]
    emulator.add_fault(503)

    emulator.reset()
    again = [emulator.faults.pick("GET", "/rest/api/3/myself", after_commit=False)]

    assert len(emulator.faults.faults) == 1
    assert rolls == again


# --- The helper endpoint --------------------------------------------------------------


async def test_the_faults_endpoint_takes_a_drop(
    jira: httpx.AsyncClient, site: EmulatedJira
) -> None:
    added = await jira.post(f"{SITE}/_emulator/faults", json={"status": "drop"})

    assert added.status_code == 201
    with pytest.raises(DroppedConnection):
        await jira.get("/myself")


async def test_the_faults_endpoint_takes_every_fault_setting(
    jira: httpx.AsyncClient, site: EmulatedJira
) -> None:
    body = {
        "status": 429,
        "count": None,
        "rate": 0.5,
        "reason": "jira-quota-global-based",
        "retry_after": 30,
        "reset_after": 600,
        "path": "/rest/api/3/issue",
        "writes_only": True,
    }

    added = await jira.post(f"{SITE}/_emulator/faults", json=body)

    assert added.json() == {"status": 429, "remaining": None}
    assert site.faults.faults == [
        Fault(
            429,
            None,
            retry_after=30,
            path="/rest/api/3/issue",
            rate=0.5,
            reason="jira-quota-global-based",
            reset_after=600,
            writes_only=True,
        )
    ]


async def test_the_faults_endpoint_refuses_a_bad_fault_saying_why(
    jira: httpx.AsyncClient,
) -> None:
    answer = await jira.post(f"{SITE}/_emulator/faults", json={"status": 200})

    assert answer.status_code == 400
    assert "fault status 200 is neither an HTTP error status" in answer.json()["error"]


async def test_deleting_the_faults_ends_the_trouble(
    jira: httpx.AsyncClient, site: EmulatedJira
) -> None:
    site.add_fault(503, count=None)
    site.faults.set_latency(0.01)

    cleared = await jira.delete(f"{SITE}/_emulator/faults")
    me = await jira.get("/myself")

    assert (cleared.status_code, me.status_code) == (204, 200)
    assert site.faults.latency == (0.0, 0.0)


async def test_the_faults_endpoint_refuses_a_retry_after_of_another_kind(
    jira: httpx.AsyncClient,
) -> None:
    answer = await jira.post(
        f"{SITE}/_emulator/faults", json={"status": 429, "retry_after": [1]}
    )

    assert answer.status_code == 400
    assert "fault retry_after [1] is neither seconds nor text" in answer.json()["error"]
