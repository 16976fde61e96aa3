"""Reading Slack's Retry-After header, given as seconds or as an HTTP date."""

from __future__ import annotations

import httpx

from caspira_slack._client import _retry_after


def _answer(retry_after: str) -> httpx.Response:
    return httpx.Response(429, headers={"Retry-After": retry_after})


def test_retry_after_in_seconds_is_read_as_seconds():
    assert _retry_after(_answer("30")) == 30.0


def test_retry_after_as_a_past_date_means_no_wait():
    assert _retry_after(_answer("Wed, 21 Oct 2015 07:28:00 GMT")) == 0.0


def test_retry_after_that_is_neither_is_ignored():
    assert _retry_after(_answer("soon")) is None


def test_no_retry_after_header_means_no_known_wait():
    assert _retry_after(httpx.Response(429)) is None


def test_retry_after_that_is_not_finite_is_ignored():
    assert _retry_after(_answer("inf")) is None
