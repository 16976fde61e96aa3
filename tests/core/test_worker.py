"""Retry delays: exponential with jitter, never shorter than Retry-After, bounded."""

from __future__ import annotations

from caspira.worker import MAX_RETRY_AFTER, backoff_delay


def test_the_delay_doubles_per_attempt_within_the_jitter():
    for attempt, middle in [(1, 2.0), (2, 4.0), (4, 16.0)]:
        delays = [backoff_delay(attempt, base=2, cap=900) for _ in range(200)]
        assert min(delays) >= middle * 0.7
        assert max(delays) <= middle * 1.3
        assert max(delays) - min(delays) > middle * 0.1


def test_the_delay_is_capped():
    assert backoff_delay(40, base=2, cap=60) <= 60 * 1.3


def test_retry_after_is_a_minimum_and_a_huge_one_is_bounded():
    assert backoff_delay(1, base=2, cap=900, retry_after=30) >= 30
    assert backoff_delay(1, base=2, cap=900, retry_after=1e12) == MAX_RETRY_AFTER
    assert backoff_delay(1, base=2, cap=900, retry_after=0) <= 2 * 1.3
