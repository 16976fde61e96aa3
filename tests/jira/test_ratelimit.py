"""The rate governor on its own: what each 429 holds, how odd Retry-After values are
read, the spacing of writes to one issue, and the bound on every wait."""

from __future__ import annotations

from datetime import timedelta
from email.utils import format_datetime

import httpx
import pytest

from caspira_hookspecs import RetryableError
from caspira_jira._ratelimit import (
    LONGEST_WAIT,
    MOST_SENDS,
    PER_ISSUE,
    QUOTA_GLOBAL,
    QUOTA_TENANT,
    JiraCall,
    RateGovernor,
    backoff,
    parse_reset,
    parse_retry_after,
)
from tests.jira.conftest import FakeClock

pytestmark = pytest.mark.anyio

READ_ISSUE = JiraCall("read issue APP-1", "GET", "/issue/{issueIdOrKey}")
SEARCH_USERS = JiraCall("search users", "GET", "/user/search")
EDIT_APP_1 = JiraCall("update issue APP-1", "PUT", "/issue/{issueIdOrKey}", "APP-1")
EDIT_APP_2 = JiraCall("update issue APP-2", "PUT", "/issue/{issueIdOrKey}", "APP-2")
CREATE = JiraCall("create an issue", "POST", "/issue", repeatable=False)


def answer(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(
        status, headers={k.replace("_", "-"): v for k, v in headers.items()}
    )


def governor(clock: FakeClock, max_wait: float = 10.0) -> RateGovernor:
    return RateGovernor(max_wait, clock=clock, jitter=lambda: 1.0)


def wait_for(rates: RateGovernor, call: JiraCall) -> float:
    until, _ = rates.held_until(call)
    return round(until - rates.clock.monotonic(), 6)


# --- Reading Retry-After and X-RateLimit-Reset ------------------------------------


def test_retry_after_in_seconds_is_the_wait(clock: FakeClock) -> None:
    assert parse_retry_after("5", clock.now()) == 5.0
    assert parse_retry_after(" 2.5 ", clock.now()) == 2.5


def test_retry_after_as_an_http_date_is_the_time_until_then(clock: FakeClock) -> None:
    then = format_datetime(clock.now() + timedelta(seconds=30), usegmt=True)

    assert parse_retry_after(then, clock.now()) == 30.0


@pytest.mark.parametrize(
    "value", [None, "0", "-3", "nan", "Mon, 02 Mar 2026 09:00:00 GMT"]
)
def test_retry_after_that_asks_for_no_wait_counts_as_missing(
    clock: FakeClock, value: str | None
) -> None:
    assert parse_retry_after(value, clock.now()) is None


@pytest.mark.parametrize("value", ["", "soon", "5 seconds", "0x10", "Mon, 99 Foo"])
def test_retry_after_that_cannot_be_read_counts_as_missing(
    clock: FakeClock, value: str
) -> None:
    assert parse_retry_after(value, clock.now()) is None


@pytest.mark.parametrize("value", [str(10**9), "inf", "1e308"])
def test_huge_retry_after_is_cut_to_an_hour(clock: FakeClock, value: str) -> None:
    assert parse_retry_after(value, clock.now()) == LONGEST_WAIT == 3600.0


def test_rate_limit_reset_written_to_the_minute_is_read(clock: FakeClock) -> None:
    assert parse_reset("2026-03-02T10:02Z", clock.now()) == 120.0
    assert parse_reset("2026-03-02T11:02:30+01:00", clock.now()) == 150.0


@pytest.mark.parametrize("value", [None, "", "tomorrow", "2026-03-02T09:59Z"])
def test_rate_limit_reset_unreadable_or_past_counts_as_missing(
    clock: FakeClock, value: str | None
) -> None:
    assert parse_reset(value, clock.now()) is None


def test_backoff_doubles_from_two_seconds() -> None:
    assert [backoff(sends, 1.0) for sends in (1, 2, 3, 4)] == [2.0, 4.0, 8.0, 16.0]


def test_backoff_is_cut_to_an_hour() -> None:
    assert backoff(40, 1.3) == 3600.0


def test_jitter_stays_between_0_7_and_1_3() -> None:
    rates = RateGovernor(10)

    jitters = [rates.jitter() for _ in range(500)]

    assert 0.7 <= min(jitters) < 0.8
    assert 1.2 < max(jitters) <= 1.3


# --- What each 429 holds -------------------------------------------------------------


def test_burst_limit_holds_only_its_endpoint_and_method(clock: FakeClock) -> None:
    rates = governor(clock)

    rates.limited(
        SEARCH_USERS,
        answer(429, RateLimit_Reason="jira-burst-based", Retry_After="5"),
        1,
    )

    assert wait_for(rates, SEARCH_USERS) == 5.0
    assert wait_for(rates, READ_ISSUE) == 0.0
    assert wait_for(rates, JiraCall("x", "POST", "/user/search")) == 0.0


@pytest.mark.parametrize("reason", ["", "jira-something-new", "jira-cost-based"])
def test_unknown_or_missing_reason_holds_the_endpoint_as_a_burst(
    clock: FakeClock, reason: str
) -> None:
    rates = governor(clock)

    rates.limited(
        SEARCH_USERS, answer(429, RateLimit_Reason=reason, Retry_After="4"), 1
    )

    assert (wait_for(rates, SEARCH_USERS), wait_for(rates, READ_ISSUE)) == (4.0, 0.0)


def test_per_issue_limit_holds_writes_to_that_issue_only(clock: FakeClock) -> None:
    rates = governor(clock)

    rates.limited(
        EDIT_APP_1, answer(429, RateLimit_Reason=PER_ISSUE, Retry_After="3"), 1
    )

    assert wait_for(rates, EDIT_APP_1) == 3.0
    assert wait_for(rates, EDIT_APP_2) == 0.0
    assert wait_for(rates, READ_ISSUE) == 0.0


def test_quota_limit_holds_every_call_until_the_reset(clock: FakeClock) -> None:
    rates = governor(clock)
    refusal = answer(
        429, RateLimit_Reason=QUOTA_GLOBAL, X_RateLimit_Reset="2026-03-02T10:05Z"
    )

    rates.limited(SEARCH_USERS, refusal, 1)

    assert [
        wait_for(rates, call) for call in (SEARCH_USERS, READ_ISSUE, EDIT_APP_2)
    ] == [300.0] * 3


def test_quota_limit_waits_for_the_later_of_reset_and_retry_after(
    clock: FakeClock,
) -> None:
    rates = governor(clock)
    refusal = answer(
        429,
        RateLimit_Reason=QUOTA_TENANT,
        X_RateLimit_Reset="2026-03-02T10:01Z",
        Retry_After="90",
    )

    rates.limited(READ_ISSUE, refusal, 1)

    assert wait_for(rates, SEARCH_USERS) == 90.0


def test_quota_limit_with_a_past_reset_holds_for_retry_after(clock: FakeClock) -> None:
    rates = governor(clock)
    refusal = answer(
        429,
        RateLimit_Reason=QUOTA_GLOBAL,
        X_RateLimit_Reset="2026-03-02T09:59Z",
        Retry_After="15",
    )

    rates.limited(READ_ISSUE, refusal, 1)

    assert wait_for(rates, SEARCH_USERS) == 15.0


def test_429_without_any_wait_backs_off_from_two_seconds(clock: FakeClock) -> None:
    rates = governor(clock)

    first = rates.limited(SEARCH_USERS, answer(429), 1)
    clock.advance(first)
    second = rates.limited(SEARCH_USERS, answer(429, Retry_After="soon"), 2)

    assert (first, second) == (2.0, 4.0)


def test_a_shorter_hold_does_not_cut_a_longer_one(clock: FakeClock) -> None:
    rates = governor(clock)

    rates.limited(SEARCH_USERS, answer(429, Retry_After="30"), 1)
    rates.limited(SEARCH_USERS, answer(429, Retry_After="2"), 1)

    assert wait_for(rates, SEARCH_USERS) == 30.0


def test_a_hold_ends_when_its_wait_has_passed(clock: FakeClock) -> None:
    rates = governor(clock)
    rates.limited(SEARCH_USERS, answer(429, Retry_After="5"), 1)

    clock.advance(5)

    assert rates.held_until(SEARCH_USERS) == (clock.monotonic(), None)


# --- A call's turn and the bound ----------------------------------------------------


async def test_a_call_waits_out_a_hold_within_the_bound(clock: FakeClock) -> None:
    rates = governor(clock)
    rates.limited(SEARCH_USERS, answer(429, Retry_After="4"), 1)

    await rates.pace(SEARCH_USERS).turn()

    assert clock.slept == [4.0]


async def test_a_hold_past_the_bound_raises_at_once_with_the_wait_left(
    clock: FakeClock,
) -> None:
    rates = governor(clock)
    rates.limited(SEARCH_USERS, answer(429, Retry_After="30"), 1)
    clock.advance(5)

    with pytest.raises(RetryableError) as caught:
        await rates.pace(SEARCH_USERS).turn()

    assert caught.value.retry_after == 25.0
    assert clock.slept == []


async def test_the_wait_error_names_the_hold_the_wait_and_the_setting(
    clock: FakeClock,
) -> None:
    rates = governor(clock)
    rates.limited(
        SEARCH_USERS,
        answer(429, RateLimit_Reason="jira-burst-based", Retry_After="30"),
        1,
    )

    with pytest.raises(RetryableError) as caught:
        await rates.pace(SEARCH_USERS).turn()

    message = str(caught.value)
    assert message.startswith("jira search users failed")
    assert "GET /user/search (jira-burst-based)" in message
    assert "30.0 s away" in message
    assert "[jira] max_wait_seconds = 10" in message


async def test_a_bound_of_zero_never_waits(clock: FakeClock) -> None:
    rates = governor(clock, max_wait=0)
    rates.limited(SEARCH_USERS, answer(429, Retry_After="1"), 1)

    with pytest.raises(RetryableError) as caught:
        await rates.pace(SEARCH_USERS).turn()

    assert (caught.value.retry_after, clock.slept) == (1.0, [])


async def test_the_bound_counts_every_wait_of_one_call(clock: FakeClock) -> None:
    rates = governor(clock)
    rates.limited(SEARCH_USERS, answer(429, Retry_After="6"), 1)
    pace = rates.pace(SEARCH_USERS)
    await pace.turn()

    again = pace.again(answer(429, Retry_After="6"))

    assert (again, pace.retry_after) == (False, 6.0)


def test_429_within_the_bound_is_sent_again(clock: FakeClock) -> None:
    pace = governor(clock).pace(SEARCH_USERS)

    assert pace.again(answer(429, Retry_After="2")) is True


def test_429_past_the_bound_gives_up_with_the_wait(clock: FakeClock) -> None:
    pace = governor(clock).pace(SEARCH_USERS)

    assert pace.again(answer(429, Retry_After="30")) is False
    assert pace.retry_after == 30.0


async def test_503_on_a_repeatable_call_is_sent_again_after_retry_after(
    clock: FakeClock,
) -> None:
    pace = governor(clock).pace(READ_ISSUE)
    await pace.turn()

    again = pace.again(answer(503, Retry_After="3"))
    await pace.turn()

    assert (again, clock.slept) == (True, [3.0])


async def test_503_without_retry_after_backs_off_from_two_seconds(
    clock: FakeClock,
) -> None:
    pace = governor(clock).pace(READ_ISSUE)
    await pace.turn()

    pace.again(answer(503))
    await pace.turn()

    assert clock.slept == [2.0]


def test_503_on_a_create_is_not_sent_again(clock: FakeClock) -> None:
    pace = governor(clock).pace(CREATE)

    assert pace.again(answer(503, Retry_After="7")) is False
    assert pace.retry_after == 7.0


@pytest.mark.parametrize("status", [500, 502, 504])
def test_other_server_errors_are_left_to_the_engine(
    clock: FakeClock, status: int
) -> None:
    pace = governor(clock).pace(READ_ISSUE)

    assert pace.again(answer(status)) is False
    assert pace.retry_after is None


def test_an_answer_that_is_not_a_refusal_is_final(clock: FakeClock) -> None:
    pace = governor(clock).pace(READ_ISSUE)

    assert pace.again(answer(200)) is False


async def test_a_call_is_sent_at_most_five_times(clock: FakeClock) -> None:
    pace = governor(clock).pace(SEARCH_USERS)
    sent = []
    while True:
        await pace.turn()
        sent.append(clock.elapsed)
        if not pace.again(answer(429, Retry_After="0.5")):
            break

    assert len(sent) == MOST_SENDS == 5


# --- Writes to one issue --------------------------------------------------------------


async def test_the_21st_write_to_an_issue_within_two_seconds_waits(
    clock: FakeClock,
) -> None:
    rates = governor(clock)

    for _ in range(21):
        await rates.pace(EDIT_APP_1).turn()

    assert clock.slept == [2.0]


async def test_writes_to_another_issue_are_not_spaced(clock: FakeClock) -> None:
    rates = governor(clock)
    for _ in range(20):
        await rates.pace(EDIT_APP_1).turn()

    await rates.pace(EDIT_APP_2).turn()
    await rates.pace(READ_ISSUE).turn()

    assert clock.slept == []


async def test_the_101st_write_to_an_issue_within_30_seconds_waits(
    clock: FakeClock,
) -> None:
    rates = governor(clock, max_wait=60)

    for _ in range(101):
        await rates.pace(EDIT_APP_1).turn()

    assert clock.slept == [2.0, 2.0, 2.0, 2.0, 22.0]


async def test_spacing_past_the_bound_raises_naming_the_issue(
    clock: FakeClock,
) -> None:
    rates = governor(clock, max_wait=1)
    for _ in range(20):
        await rates.pace(EDIT_APP_1).turn()

    with pytest.raises(RetryableError) as caught:
        await rates.pace(EDIT_APP_1).turn()

    assert caught.value.retry_after == 2.0
    assert "writes to issue APP-1 are spaced" in str(caught.value)


async def test_issues_no_window_needs_are_forgotten(clock: FakeClock) -> None:
    rates = governor(clock)
    for number in range(600):
        call = JiraCall("update", "PUT", "/issue/{issueIdOrKey}", f"APP-{number}")
        await rates.pace(call).turn()

    clock.advance(31)
    await rates.pace(EDIT_APP_1).turn()

    assert list(rates._writes) == ["APP-1"]
