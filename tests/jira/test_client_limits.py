"""The client against an emulator told to make trouble: rate limits of each kind,
503s, odd Retry-After values, dropped connections and creates whose answer is lost.
Time is a fake clock the client and the emulator share, so nothing really sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from caspira_hookspecs import Flow, IssueDraft, RetryableError
from caspira_jira import JiraClient, JiraPlugin, JiraSettings
from caspira_jira._ratelimit import PER_ISSUE, QUOTA_GLOBAL, RateGovernor
from caspira_jira.emulator import EmulatedJira
from tests.jira.conftest import (
    EMAIL,
    TOKEN,
    FakeClock,
    SpecCheckingTransport,
    share_clock,
)

pytestmark = pytest.mark.anyio

API = "/rest/api/3"
BUG = {"project": {"key": "APP"}, "issuetype": {"id": "10004"}, "summary": "Crash"}


@pytest.fixture
async def client(
    settings: JiraSettings,
    site: EmulatedJira,
    transport: SpecCheckingTransport,
    clock: FakeClock,
) -> AsyncIterator[JiraClient]:
    share_clock(site, clock)
    rates = RateGovernor(settings.max_wait_seconds, clock=clock, jitter=lambda: 1.0)
    client = JiraClient(settings, TOKEN, transport=transport, governor=rates)
    yield client
    await client.aclose()


def statuses(transport: SpecCheckingTransport, method: str, path: str) -> list[int]:
    return [
        e.status for e in transport.exchanges if (e.method, e.path) == (method, path)
    ]


# --- Burst limits ---------------------------------------------------------------------


async def test_burst_limit_within_the_bound_is_waited_out_in_the_client(
    client: JiraClient,
    site: EmulatedJira,
    transport: SpecCheckingTransport,
    clock: FakeClock,
) -> None:
    site.add_fault(429, retry_after=3, path=f"{API}/user/search")

    found = await client.search_users("priya")

    assert found[0]["emailAddress"] == "priya.nair@example.com"
    assert statuses(transport, "GET", f"{API}/user/search") == [429, 200]
    assert clock.slept == [3.0]


async def test_burst_limit_on_one_endpoint_does_not_stop_another(
    client: JiraClient, site: EmulatedJira, clock: FakeClock
) -> None:
    site.add_fault(429, retry_after=30, path=f"{API}/user/search")
    with pytest.raises(RetryableError):
        await client.search_users("priya")

    me = await client.myself()

    assert me["emailAddress"] == EMAIL
    assert clock.slept == []


async def test_a_held_endpoint_is_not_called_before_its_wait_is_over(
    client: JiraClient, site: EmulatedJira, transport: SpecCheckingTransport
) -> None:
    site.add_fault(429, retry_after=30, path=f"{API}/user/search")
    with pytest.raises(RetryableError):
        await client.search_users("priya")

    with pytest.raises(RetryableError) as caught:
        await client.search_users("dana")

    assert caught.value.retry_after == 30.0
    assert statuses(transport, "GET", f"{API}/user/search") == [429]


async def test_a_held_endpoint_is_called_again_once_its_wait_is_over(
    client: JiraClient,
    site: EmulatedJira,
    transport: SpecCheckingTransport,
    clock: FakeClock,
) -> None:
    site.add_fault(429, retry_after=30, path=f"{API}/user/search")
    with pytest.raises(RetryableError):
        await client.search_users("priya")

    clock.advance(30)
    found = await client.search_users("dana")

    assert found[0]["emailAddress"] == "dana.whitfield@example.com"
    assert statuses(transport, "GET", f"{API}/user/search") == [429, 200]


async def test_burst_limit_on_reading_one_issue_holds_reading_every_issue(
    client: JiraClient, site: EmulatedJira, transport: SpecCheckingTransport
) -> None:
    first = (await client.create_issue(BUG))["key"]
    second = (await client.create_issue(BUG))["key"]
    site.add_fault(429, retry_after=30, path=f"{API}/issue/{first}")
    with pytest.raises(RetryableError):
        await client.get_issue(first)

    with pytest.raises(RetryableError) as held:
        await client.get_issue(second)

    assert held.value.retry_after == 30.0
    assert statuses(transport, "GET", f"{API}/issue/{second}") == []


# --- Quotas ---------------------------------------------------------------------------


async def test_quota_limit_pauses_every_call_until_the_reset(
    client: JiraClient, site: EmulatedJira, transport: SpecCheckingTransport
) -> None:
    site.add_fault(429, reason=QUOTA_GLOBAL, reset_after=300, path=f"{API}/user/search")
    with pytest.raises(RetryableError) as first:
        await client.search_users("priya")

    with pytest.raises(RetryableError) as other:
        await client.myself()

    assert (first.value.retry_after, other.value.retry_after) == (300.0, 300.0)
    assert statuses(transport, "GET", f"{API}/myself") == []


async def test_calls_resume_after_the_quota_reset(
    client: JiraClient, site: EmulatedJira, clock: FakeClock
) -> None:
    site.add_fault(429, reason=QUOTA_GLOBAL, reset_after=300, path=f"{API}/user/search")
    with pytest.raises(RetryableError):
        await client.search_users("priya")

    clock.advance(300)
    me = await client.myself()

    assert me["emailAddress"] == EMAIL


# --- Writes to one issue --------------------------------------------------------------


async def test_writes_to_one_issue_stay_within_jiras_per_issue_limit(
    client: JiraClient,
    site: EmulatedJira,
    transport: SpecCheckingTransport,
    clock: FakeClock,
) -> None:
    site.faults.issue_write_limit = True
    key = (await client.create_issue(BUG))["key"]

    for number in range(25):
        await client.edit_issue(key, {"summary": f"Crash, take {number}"})

    assert statuses(transport, "PUT", f"{API}/issue/{key}") == [204] * 25
    assert clock.slept == [2.0]
    assert site.issue(key).fields["summary"] == "Crash, take 24"


async def test_per_issue_limit_holds_writes_to_that_issue_only(
    client: JiraClient, site: EmulatedJira, transport: SpecCheckingTransport
) -> None:
    first = (await client.create_issue(BUG))["key"]
    second = (await client.create_issue(BUG))["key"]
    site.add_fault(
        429,
        reason=PER_ISSUE,
        retry_after=30,
        path=f"{API}/issue/{first}",
        writes_only=True,
    )
    with pytest.raises(RetryableError):
        await client.edit_issue(first, {"summary": "Crash on start"})

    await client.edit_issue(second, {"summary": "Crash on exit"})
    read = await client.get_issue(first, ("summary",))
    with pytest.raises(RetryableError) as held:
        await client.edit_issue(first, {"summary": "Crash on start"})

    assert read["fields"]["summary"] == "Crash"
    assert held.value.retry_after == 30.0
    assert statuses(transport, "PUT", f"{API}/issue/{first}") == [429]
    assert statuses(transport, "PUT", f"{API}/issue/{second}") == [204]


# --- 503s and odd Retry-After values --------------------------------------------------


async def test_503_on_a_read_is_sent_again_after_its_retry_after(
    client: JiraClient,
    site: EmulatedJira,
    transport: SpecCheckingTransport,
    clock: FakeClock,
) -> None:
    site.add_fault(503, retry_after=4, path=f"{API}/myself")

    me = await client.myself()

    assert me["emailAddress"] == EMAIL
    assert statuses(transport, "GET", f"{API}/myself") == [503, 200]
    assert clock.slept == [4.0]


async def test_503_on_a_create_is_handed_to_the_engine_at_once(
    client: JiraClient, site: EmulatedJira, clock: FakeClock
) -> None:
    site.add_fault(503, retry_after=4, path=f"{API}/issue")

    with pytest.raises(RetryableError) as caught:
        await client.create_issue(BUG)

    assert (caught.value.status, caught.value.retry_after) == (503, 4.0)
    assert site.issues == {}
    assert clock.slept == []


@pytest.mark.parametrize(
    "retry_after", ["soon", "0", "-5", "Wed, 21 Oct 2015 07:28:00 GMT"]
)
async def test_retry_after_asking_for_no_sane_wait_backs_off_from_two_seconds(
    client: JiraClient, site: EmulatedJira, clock: FakeClock, retry_after: str
) -> None:
    site.add_fault(429, retry_after=retry_after, path=f"{API}/myself")

    await client.myself()

    assert clock.slept == [2.0]


async def test_huge_retry_after_is_handed_to_the_engine_cut_to_an_hour(
    client: JiraClient, site: EmulatedJira, clock: FakeClock
) -> None:
    site.add_fault(429, retry_after=10**9, path=f"{API}/myself")

    with pytest.raises(RetryableError) as caught:
        await client.myself()

    assert (caught.value.status, caught.value.retry_after) == (429, 3600.0)
    assert clock.slept == []


# --- Lost answers ---------------------------------------------------------------------


async def test_dropped_connection_is_retryable(
    client: JiraClient, site: EmulatedJira
) -> None:
    site.add_fault("drop", path=f"{API}/myself")

    with pytest.raises(RetryableError) as caught:
        await client.myself()

    assert caught.value.status is None
    assert "could not reach https://jira.test" in caught.value.detail


async def test_a_create_whose_connection_drops_first_makes_nothing(
    client: JiraClient, site: EmulatedJira
) -> None:
    site.add_fault("drop", path=f"{API}/issue")

    with pytest.raises(RetryableError):
        await client.create_issue(BUG)

    assert site.issues == {}


def draft() -> IssueDraft:
    return IssueDraft(
        flow="bugs",
        record_id="123",
        project="APP",
        issue_type="Bug",
        summary="Checkout button does nothing on iPad",
        idempotency_key="bugs-123",
    )


@pytest.mark.parametrize("lost_as", ["drop", 503])
async def test_create_answer_lost_after_commit_leaves_an_issue_find_issue_finds(
    plugin: JiraPlugin, flow: Flow, site: EmulatedJira, lost_as: str | int
) -> None:
    site.add_fault(lost_as, after_commit=True)

    with pytest.raises(RetryableError):
        await plugin.create_issue(draft(), flow)
    found = await plugin.find_issue(draft(), flow)

    assert [issue.key for issue in site.issues.values()] == ["APP-1"]
    assert found is not None and found.key == "APP-1"
