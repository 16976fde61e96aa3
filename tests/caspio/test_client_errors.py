"""How Caspio's refusals reach callers: retryable or not, with Caspio's own words."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from caspira_caspio import CaspioClient, where_equals
from caspira_hookspecs import RemoteError, RetryableError
from tests.caspio.conftest import CLIENT_ID, CLIENT_SECRET, closed_port

pytestmark = pytest.mark.anyio

REQUEST_ID = re.compile(r"request id [0-9a-f-]{36}")


async def test_server_error_is_retryable_with_code_message_and_request_id(
    client, emulator, bug_reports
):
    emulator.fail_next(500, "InternalError", "Internal error")

    with pytest.raises(RetryableError) as raised:
        await client.list_fields(bug_reports)

    assert raised.value.status == 500
    assert raised.value.operation == "list_fields"
    assert "InternalError: Internal error" in raised.value.detail
    assert REQUEST_ID.search(raised.value.detail)


async def test_rate_limit_is_retryable_after_the_given_seconds(
    client, emulator, bug_reports
):
    emulator.fail_next(429, "TooManyRequests", "Slow down", retry_after="7")

    with pytest.raises(RetryableError) as raised:
        await client.list_fields(bug_reports)

    assert raised.value.status == 429
    assert raised.value.retry_after == 7.0


async def test_retry_after_as_a_date_becomes_seconds(client, emulator, bug_reports):
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    emulator.fail_next(503, "Unavailable", "Maintenance", retry_after=later)

    with pytest.raises(RetryableError) as raised:
        await client.list_fields(bug_reports)

    assert 55 <= raised.value.retry_after <= 60


async def test_unknown_table_is_a_remote_error_that_is_not_retried(client):
    with pytest.raises(RemoteError) as raised:
        await client.list_fields("NoSuchTable")

    assert not isinstance(raised.value, RetryableError)
    assert raised.value.status == 404
    assert "table 'NoSuchTable': ObjectNotFound" in str(raised.value)
    assert "check the table name" in str(raised.value)


async def test_bad_where_clause_reports_caspio_message(client, bug_reports):
    where = where_equals("NoSuchField", "x")

    with pytest.raises(RemoteError) as raised:
        [r async for r in client.list_records(bug_reports, where=where)]

    assert raised.value.status == 400
    assert "SqlServerError: Invalid column name 'NoSuchField'" in str(raised.value)


async def test_unreachable_caspio_is_retryable_without_status():
    url = f"http://127.0.0.1:{closed_port()}"
    async with CaspioClient(url, CLIENT_ID, CLIENT_SECRET, timeout=2) as client:
        with pytest.raises(RetryableError) as raised:
            await client.list_fields("BugReports")

    assert raised.value.status is None
    assert raised.value.operation == "token"
    assert "ConnectError" in raised.value.detail


async def test_errors_never_carry_the_token(client, emulator, bug_reports):
    await client.list_fields(bug_reports)
    emulator.fail_next(500)

    with pytest.raises(RetryableError) as raised:
        await client.list_fields(bug_reports)

    for token in emulator.tokens:
        assert token not in str(raised.value)
