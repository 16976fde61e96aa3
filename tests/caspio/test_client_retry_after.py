"""What the client makes of ``Retry-After``: seconds from 0 to an hour, or none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from caspira_caspio import MAX_RETRY_AFTER, CaspioClient, retry_after_seconds
from caspira_hookspecs import RetryableError
from tests.caspio.conftest import ACCOUNT_URL, CLIENT_ID, CLIENT_SECRET

#: The client's wall clock in these tests: 2026-03-02 10:00:00 UTC.
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


@pytest.fixture
async def client(caspio_transport):
    async with CaspioClient(
        ACCOUNT_URL,
        CLIENT_ID,
        CLIENT_SECRET,
        transport=caspio_transport,
        wall_clock=NOW.timestamp,
    ) as caspio:
        yield caspio


async def refusal(client, emulator, status: int, retry_after: str) -> RetryableError:
    emulator.fail_next(status, "TooManyRequests", "Slow down", retry_after=retry_after)
    with pytest.raises(RetryableError) as raised:
        await client.list_fields("BugReports")
    return raised.value


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("0", 0.0),
        ("7", 7.0),
        ("2.5", 2.5),
        (" 12 ", 12.0),
        ("3599", 3599.0),
        (str(10**9), MAX_RETRY_AFTER),
        ("9" * 500, MAX_RETRY_AFTER),
        ("-5", None),
        ("soon", None),
        ("NaN", None),
        ("inf", None),
        ("1e3", None),
        ("5, 7", None),
        (http_date(NOW + timedelta(seconds=90)), 90.0),
        (http_date(NOW - timedelta(days=2)), 0.0),
        (http_date(NOW + timedelta(days=30)), MAX_RETRY_AFTER),
        ("Mon, 02 Mar 2026 10:01:00 -0000", 60.0),
        ("Mon, 02 Mar 2026 11:01:00 +0100", 60.0),
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER),
        ("Mon, 32 Mar 2026 10:00:00 GMT", None),
        ("Mon, 02 Mar 2026 25:00:00 GMT", None),
    ],
)
@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_becomes_bounded_seconds_or_none(
    client, emulator, bug_reports, status, header, seconds
):
    refused = await refusal(client, emulator, status, header)

    assert refused.status == status
    assert refused.retry_after == seconds


@pytest.mark.anyio
async def test_missing_retry_after_is_none(client, emulator, bug_reports):
    emulator.fail_next(429, "TooManyRequests", "Slow down")

    with pytest.raises(RetryableError) as raised:
        await client.list_fields(bug_reports)

    assert raised.value.retry_after is None


@pytest.mark.anyio
async def test_injected_503_carries_the_configured_retry_after(
    client, emulator, bug_reports
):
    emulator.set_faults(rate_5xx=1, retry_after="30", path="/integrations/rest/v3")
    answers = []
    for _ in range(20):
        with pytest.raises(RetryableError) as raised:
            await client.list_fields(bug_reports)
        answers.append(raised.value)

    waits = {refused.status: refused.retry_after for refused in answers}
    assert waits == {500: None, 502: None, 503: 30.0}


@given(st.text())
def test_any_header_text_gives_none_or_a_wait_within_an_hour(text):
    seconds = retry_after_seconds(text, NOW.timestamp())

    assert seconds is None or 0.0 <= seconds <= MAX_RETRY_AFTER


@given(st.datetimes(timezones=st.just(UTC)))
def test_any_http_date_gives_a_wait_within_an_hour(moment):
    seconds = retry_after_seconds(http_date(moment), NOW.timestamp())

    assert seconds is not None
    assert 0.0 <= seconds <= MAX_RETRY_AFTER
