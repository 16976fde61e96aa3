"""How the Jira client paces itself: what Jira's 429s hold (by ``RateLimit-Reason``),
the spacing of writes to one issue, and the waits Retry-After and backoff ask for.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import anyio
import httpx

from caspira_hookspecs import RetryableError

__all__ = [
    "BURST",
    "ISSUE_WRITE_WINDOWS",
    "LONGEST_WAIT",
    "MOST_SENDS",
    "PER_ISSUE",
    "QUOTA_GLOBAL",
    "QUOTA_TENANT",
    "Clock",
    "JiraCall",
    "Pace",
    "RateGovernor",
    "backoff",
    "parse_reset",
    "parse_retry_after",
]

log = logging.getLogger(__name__)

#: Jira's names for the limit a 429 comes from (its ``RateLimit-Reason`` header).
BURST = "jira-burst-based"
PER_ISSUE = "jira-per-issue-on-write"
QUOTA_GLOBAL = "jira-quota-global-based"
QUOTA_TENANT = "jira-quota-tenant-based"

#: The longest wait a header may ask for: a broken header must not park calls for days.
LONGEST_WAIT = 3600.0
#: Without a usable Retry-After: 2 s, doubling per send, times a jitter in 0.7-1.3.
BACKOFF_START = 2.0
#: How often one call is sent at most, its first send included.
MOST_SENDS = 5
#: Jira's per-issue write limits as (writes, seconds): 20 in 2 s and 100 in 30 s.
ISSUE_WRITE_WINDOWS = ((20, 2.0), (100, 30.0))

_EVERYTHING = "every Jira call"
_SWEEP_ABOVE = 512


class Clock:
    """Time as the governor reads it; tests pass one that only pretends to sleep."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


@dataclass(frozen=True)
class JiraCall:
    """What the governor needs to know of one call.

    ``endpoint`` is the path template (``/issue/{issueIdOrKey}``), so calls on
    different issues share the endpoint's burst limit; ``issue`` is the issue the
    call writes to (``None`` for reads); ``repeatable`` is false for a write whose
    effect an unanswered or 503-answered send may already have made.
    """

    operation: str
    method: str
    endpoint: str
    issue: str | None = None
    repeatable: bool = True

    @property
    def scope(self) -> str:
        return f"{self.method} {self.endpoint}"


@dataclass
class _Hold:
    until: float
    reason: str


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """The seconds a ``Retry-After`` asks for, or ``None`` when it asks for none.

    Seconds or an HTTP date are read; zero, negative, unreadable and past values
    ask for nothing (the caller backs off instead) and every wait is cut to
    ``LONGEST_WAIT``.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - now).total_seconds()
    if math.isnan(seconds) or seconds <= 0:
        return None
    return min(seconds, LONGEST_WAIT)


def parse_reset(value: str | None, now: datetime) -> float | None:
    """Seconds until ``X-RateLimit-Reset``, an ISO 8601 time.

    Jira writes it to the minute (``2026-03-02T14:05Z``). ``None`` when missing,
    unreadable or past; cut to ``LONGEST_WAIT``.
    """
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    seconds = (moment - now).total_seconds()
    if seconds <= 0:
        return None
    return min(seconds, LONGEST_WAIT)


def backoff(sends: int, jitter: float) -> float:
    """The wait after the ``sends``-th send when Jira named none."""
    return min(LONGEST_WAIT, BACKOFF_START * 2 ** max(0, sends - 1) * jitter)


def _default_jitter() -> float:
    return random.uniform(0.7, 1.3)


class RateGovernor:
    """Everything one Jira client knows about Jira's limits, shared by its calls.

    After a 429 it holds what the ``RateLimit-Reason`` names: one endpoint and
    method (``jira-burst-based``, and any reason it does not know), the writes to
    one issue (``jira-per-issue-on-write``) or every call (the quotas, until
    ``X-RateLimit-Reset``). It also spaces writes to one issue to stay within
    ``ISSUE_WRITE_WINDOWS``. A call waits for its turn at most
    ``max_wait_seconds`` in all; a longer wait raises ``RetryableError`` at once,
    carrying the wait as ``retry_after``, so the engine reschedules the change
    instead of keeping a worker busy.
    """

    def __init__(
        self,
        max_wait_seconds: float,
        *,
        clock: Clock | None = None,
        jitter: Callable[[], float] = _default_jitter,
        service: str = "jira",
    ) -> None:
        self.max_wait_seconds = max_wait_seconds
        self.clock = clock or Clock()
        self.jitter = jitter
        self.service = service
        self._holds: dict[str, _Hold] = {}
        self._writes: dict[str, deque[float]] = {}

    def pace(self, call: JiraCall) -> Pace:
        """Start one call: its wait budget begins now."""
        return Pace(self, call)

    def held_until(self, call: JiraCall) -> tuple[float, str | None]:
        """When ``call`` may go, and why it waits (``None``: it need not)."""
        now = self.clock.monotonic()
        until, why = now, None
        scopes = [_EVERYTHING, call.scope]
        if call.issue is not None:
            scopes.append(_issue_scope(call.issue))
        for scope in scopes:
            hold = self._holds.get(scope)
            if hold is None:
                continue
            if hold.until <= now:
                del self._holds[scope]
            elif hold.until > until:
                until, why = hold.until, f"Jira rate-limits {scope} ({hold.reason})"
        if call.issue is not None:
            slot = self._write_slot(call.issue, now)
            if slot > until:
                until = slot
                why = (
                    f"writes to issue {call.issue} are spaced to stay within the "
                    "per-issue limit of Jira (20 in 2 s, 100 in 30 s)"
                )
        return until, why

    def limited(self, call: JiraCall, response: httpx.Response, sends: int) -> float:
        """Record what a 429 answer holds; answers the seconds ``call`` must wait."""
        now, wall = self.clock.monotonic(), self.clock.now()
        reason = response.headers.get("RateLimit-Reason", "").strip()
        asked = parse_retry_after(response.headers.get("Retry-After"), wall)
        if reason.startswith("jira-quota"):
            scope = _EVERYTHING
            reset = parse_reset(response.headers.get("X-RateLimit-Reset"), wall)
            # Jira writes the reset to the minute: the later of the two is safe.
            known = [wait for wait in (reset, asked) if wait is not None]
            wait = max(known) if known else backoff(sends, self.jitter())
        else:
            if reason == PER_ISSUE and call.issue is not None:
                scope = _issue_scope(call.issue)
            else:
                scope = call.scope
            wait = asked if asked is not None else backoff(sends, self.jitter())

        hold = self._holds.get(scope)
        if hold is None or hold.until < now + wait:
            hold = _Hold(now + wait, reason or "no RateLimit-Reason")
            self._holds[scope] = hold
        log.info(
            "jira.rate_limited",
            extra={
                "reason": reason or None,
                "held": scope,
                "wait_s": round(hold.until - now, 3),
            },
        )
        return hold.until - now

    def admitted(self, call: JiraCall) -> None:
        """Count a write to ``call.issue`` sent now, for the spacing of later ones."""
        if call.issue is None:
            return
        now = self.clock.monotonic()
        if len(self._writes) + len(self._holds) > _SWEEP_ABOVE:
            self._forget_before(now)
        self._writes.setdefault(call.issue, deque()).append(now)

    def _forget_before(self, now: float) -> None:
        # Issues are many and each is written a few times: what no window or hold
        # still needs is dropped, or a long-running worker would keep every issue.
        longest = max(seconds for _, seconds in ISSUE_WRITE_WINDOWS)
        for issue in [i for i, w in self._writes.items() if w[-1] <= now - longest]:
            del self._writes[issue]
        for scope in [s for s, hold in self._holds.items() if hold.until <= now]:
            del self._holds[scope]

    def _write_slot(self, issue: str, now: float) -> float:
        writes = self._writes.get(issue)
        if not writes:
            return now
        longest = max(seconds for _, seconds in ISSUE_WRITE_WINDOWS)
        while writes and writes[0] <= now - longest:
            writes.popleft()
        if not writes:
            del self._writes[issue]
            return now
        slot = now
        for most, seconds in ISSUE_WRITE_WINDOWS:
            if len(writes) >= most:
                slot = max(slot, writes[-most] + seconds)
        return slot

    def too_long(self, call: JiraCall, wait: float, why: str) -> RetryableError:
        """The error for a call whose turn is further away than the bound."""
        return RetryableError(
            self.service,
            call.operation,
            None,
            f"{why}: the next send is {wait:.1f} s away, longer than [jira] "
            f"max_wait_seconds = {self.max_wait_seconds:g}; the change is retried "
            "after that wait (a larger max_wait_seconds makes the worker wait "
            "instead)",
            retry_after=wait,
        )


class Pace:
    """One call's way through the governor: its turns, its retries, its wait budget.

    ``retry_after`` is the wait to report when the call gives up on an answer.
    """

    def __init__(self, governor: RateGovernor, call: JiraCall) -> None:
        self.governor = governor
        self.call = call
        self.sends = 0
        self.retry_after: float | None = None
        self._deadline = governor.clock.monotonic() + governor.max_wait_seconds
        self._not_before = 0.0

    async def turn(self) -> None:
        """Wait until the call may be sent; raise ``RetryableError`` past the bound."""
        clock = self.governor.clock
        while True:
            until, why = self.governor.held_until(self.call)
            if self._not_before > until:
                until, why = self._not_before, f"Jira answered {self.call.scope} 503"
            now = clock.monotonic()
            if why is None or until <= now:
                break
            if until > self._deadline:
                raise self.governor.too_long(self.call, until - now, why)
            log.debug(
                "jira.waiting",
                extra={"call": self.call.scope, "wait_s": round(until - now, 3)},
            )
            await clock.sleep(until - now)
        self.governor.admitted(self.call)
        self.sends += 1

    def again(self, response: httpx.Response) -> bool:
        """Whether to send the call again after ``response``.

        A 429 is always safe to send again: Jira refuses it before doing anything.
        A 503 is sent again only when the call is ``repeatable``. Either is sent
        again only while its wait fits the budget and ``MOST_SENDS`` allows.
        """
        status = response.status_code
        governor = self.governor
        if status == 429:
            wait = governor.limited(self.call, response, self.sends)
        elif status >= 500:
            asked = parse_retry_after(
                response.headers.get("Retry-After"), governor.clock.now()
            )
            self.retry_after = asked
            if status != 503 or not self.call.repeatable:
                return False
            wait = backoff(self.sends, governor.jitter()) if asked is None else asked
            self._not_before = governor.clock.monotonic() + wait
        else:
            return False

        self.retry_after = wait
        fits = governor.clock.monotonic() + wait <= self._deadline
        return fits and self.sends < MOST_SENDS


def _issue_scope(issue: str) -> str:
    return f"writes to issue {issue}"
