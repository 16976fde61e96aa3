"""The client against a failing Caspio: what is retried, renewed, or told to people."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from caspira_caspio import CaspioClient
from caspira_hookspecs import RemoteError, RetryableError
from tests.caspio.conftest import (
    ACCOUNT_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    SpecCheckedTransport,
    served,
)

pytestmark = pytest.mark.anyio

API = "/integrations/rest/v3"
ENV = ("CASPIO_CLIENT_ID", "CASPIO_CLIENT_SECRET")


@pytest.fixture
async def client(caspio_transport: SpecCheckedTransport):
    async with CaspioClient(
        ACCOUNT_URL,
        CLIENT_ID,
        CLIENT_SECRET,
        transport=caspio_transport,
        credential_env=ENV,
    ) as caspio:
        yield caspio


# --- no answer ----------------------------------------------------------------------


async def test_dropped_connection_is_retryable_without_status(
    client, emulator, bug_reports
):
    emulator.set_faults(rate_drop=1, path=API)

    with pytest.raises(RetryableError) as raised:
        await client.list_fields(bug_reports)

    assert raised.value.status is None
    assert raised.value.operation == "list_fields"
    assert "RemoteProtocolError" in raised.value.detail
    assert "closed the connection without an answer" in raised.value.detail


async def test_dropped_connection_over_uvicorn_is_retryable(emulator_app, emulator):
    emulator.create_table("BugReports", [{"Name": "Title", "Type": "STRING"}])
    emulator.set_faults(rate_drop=1, path=API)

    async with (
        served(emulator_app) as base_url,
        CaspioClient(base_url, CLIENT_ID, CLIENT_SECRET) as client,
    ):
        with pytest.raises(RetryableError) as raised:
            await client.list_fields("BugReports")

    assert raised.value.status is None
    assert "RemoteProtocolError calling 127.0.0.1" in raised.value.detail


async def test_slow_answer_is_a_retryable_timeout_naming_the_setting(
    emulator_app, emulator
):
    emulator.create_table("BugReports", [{"Name": "Title", "Type": "STRING"}])
    emulator.set_faults(latency=(0.3, 0.3), path=API)

    async with (
        served(emulator_app) as base_url,
        CaspioClient(base_url, CLIENT_ID, CLIENT_SECRET, timeout=0.05) as client,
    ):
        with pytest.raises(RetryableError) as raised:
            await client.list_fields("BugReports")

    assert raised.value.status is None
    assert "ReadTimeout: 127.0.0.1 gave no answer within 0.05 s" in raised.value.detail
    assert "raise caspio.timeout_seconds" in raised.value.detail


async def test_dropped_token_request_is_retryable(client, emulator, bug_reports):
    emulator.set_faults(rate_drop=1, path="/oauth/token")

    with pytest.raises(RetryableError) as raised:
        await client.list_fields(bug_reports)

    assert raised.value.operation == "token"
    assert raised.value.status is None
    assert "write" not in raised.value.detail


async def test_lost_write_is_retryable_and_says_the_write_may_be_done(
    client, emulator, bug_reports
):
    created = await client.insert_record(bug_reports, {"Title": "Crash"})
    emulator.set_faults(rate_lost_write=1)

    with pytest.raises(RetryableError) as raised:
        await client.update_record(bug_reports, created["PK_ID"], {"JiraKey": "APP-1"})

    assert "the write may have been done" in raised.value.detail
    stored = emulator.tables[bug_reports].records[created["PK_ID"]]
    assert stored["JiraKey"] == "APP-1"


# --- refusals worth another try ------------------------------------------------------


async def test_rate_limited_token_request_is_retryable_after_the_wait(
    client, emulator, bug_reports
):
    emulator.set_faults(rate_429=1, path="/oauth/token", retry_after="20")

    with pytest.raises(RetryableError) as raised:
        await client.list_fields(bug_reports)

    assert raised.value.operation == "token"
    assert raised.value.status == 429
    assert raised.value.retry_after == 20.0


async def test_gateway_page_is_retryable_with_its_reason(client, emulator, bug_reports):
    emulator.set_faults(rate_5xx=1, seed=3, path=API)
    refusals = []
    for _ in range(20):
        with pytest.raises(RetryableError) as raised:
            await client.list_fields(bug_reports)
        refusals.append(raised.value)

    gateway = next(refused for refused in refusals if refused.status == 502)
    assert gateway.detail == (
        "table 'BugReports': Bad Gateway; the call will be retried"
    )


async def test_calls_succeed_once_random_faults_stop(client, emulator, bug_reports):
    emulator.set_faults(rate_429=0.3, rate_5xx=0.3, rate_drop=0.3, seed=9, path=API)
    failures = 0
    for _ in range(20):
        try:
            await client.list_fields(bug_reports)
        except RetryableError:
            failures += 1
    emulator.set_faults()

    fields = await client.list_fields(bug_reports)

    assert failures == len(emulator.injected)
    assert fields[0]["Name"] == "PK_ID"


# --- tokens -------------------------------------------------------------------------


async def test_token_ended_early_is_renewed_and_the_call_repeated(
    client, emulator, bug_reports
):
    emulator.set_faults(rate_token_expiry=1)
    grants = emulator.token_grants

    for _ in range(3):
        await client.list_fields(bug_reports)

    # The first call spends a fresh token; each later call finds it ended.
    assert emulator.token_grants == grants + 3
    assert [fault.kind for fault in emulator.injected] == ["token_expiry"] * 2


@pytest.mark.parametrize(
    "emulator_options", [{"token_ttl": "60", "expired_token_status": "400"}]
)
async def test_expired_token_answered_400_is_renewed_and_the_call_repeated(
    client, emulator, bug_reports
):
    await client.list_fields(bug_reports)
    grants = emulator.token_grants
    emulator.advance_clock(61)

    fields = await client.list_fields(bug_reports)

    assert fields[0]["Name"] == "PK_ID"
    assert emulator.token_grants == grants + 1


@pytest.mark.parametrize(
    "emulator_options", [{"token_ttl": "60", "expired_token_status": "400"}]
)
async def test_token_ended_early_on_a_400_account_is_renewed(
    client, emulator, bug_reports
):
    await client.list_fields(bug_reports)
    emulator.set_faults(rate_token_expiry=1, writes_only=True)

    created = await client.insert_record(bug_reports, {"Title": "Crash"})
    updated = await client.update_record(
        bug_reports, created["PK_ID"], {"Title": "Crash on start"}
    )

    assert updated["Title"] == "Crash on start"
    assert [fault.kind for fault in emulator.injected] == ["token_expiry"] * 2


async def test_fresh_token_refused_names_the_credentials_environment_variables(
    client, emulator, bug_reports
):
    await client.list_fields(bug_reports)
    emulator.fail_next(401, "Unauthorized", "Access denied", times=2)

    with pytest.raises(RemoteError) as raised:
        await client.list_fields(bug_reports)

    assert not isinstance(raised.value, RetryableError)
    assert raised.value.status == 401
    assert "credentials are wrong or the profile is disabled" in raised.value.detail
    assert (
        "client id and secret in the environment variables CASPIO_CLIENT_ID and "
        "CASPIO_CLIENT_SECRET"
    ) in raised.value.detail


async def test_second_incorrect_query_parameter_names_query_and_credentials(
    client, emulator, bug_reports
):
    await client.list_fields(bug_reports)
    grants = emulator.token_grants
    emulator.fail_next(400, "IncorrectQueryParameter", "Bad value", times=2)

    with pytest.raises(RemoteError) as raised:
        await client.list_fields(bug_reports)

    assert not isinstance(raised.value, RetryableError)
    assert raised.value.status == 400
    assert "IncorrectQueryParameter: Bad value" in raised.value.detail
    assert "a query parameter is wrong, or the REST profile's credentials are" in (
        raised.value.detail
    )
    assert "CASPIO_CLIENT_ID and CASPIO_CLIENT_SECRET" in raised.value.detail
    assert emulator.token_grants == grants + 1


async def test_refused_client_secret_names_the_environment_variables(
    caspio_transport, bug_reports
):
    async with CaspioClient(
        ACCOUNT_URL,
        CLIENT_ID,
        "not-the-secret",
        transport=caspio_transport,
        credential_env=ENV,
    ) as client:
        with pytest.raises(RemoteError) as raised:
            await client.list_fields(bug_reports)

    assert raised.value.status == 401
    assert raised.value.detail.endswith(
        "check the REST profile's client id and secret in the environment "
        "variables CASPIO_CLIENT_ID and CASPIO_CLIENT_SECRET"
    )
    assert "not-the-secret" not in str(raised.value)


async def test_token_answer_that_is_not_caspios_is_a_remote_error():
    async def login_page(request):
        return HTMLResponse("<html><body>Sign in</body></html>")

    proxy = Starlette(routes=[Route("/oauth/token", login_page, methods=["POST"])])
    async with (
        served(proxy) as base_url,
        CaspioClient(base_url, CLIENT_ID, CLIENT_SECRET) as client,
    ):
        with pytest.raises(RemoteError) as raised:
            await client.list_fields("BugReports")

    assert not isinstance(raised.value, RetryableError)
    assert raised.value.operation == "token"
    assert "holds no access_token" in raised.value.detail
    assert "account_url names the Caspio account" in raised.value.detail
