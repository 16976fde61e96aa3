"""Trouble the Jira emulator makes on request: 429s shaped like Jira's, 5xx, latency,
dropped connections, Jira's per-issue write limit, and creates whose answer is lost.
"""

from __future__ import annotations

import logging
import math
import random
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from caspira_jira._emulator_model import JiraRejection
from caspira_jira._ratelimit import BURST, ISSUE_WRITE_WINDOWS, PER_ISSUE

if TYPE_CHECKING:
    from caspira_jira._emulator_site import EmulatedJira

__all__ = [
    "DROP",
    "FAULT_OPTIONS",
    "DroppedConnection",
    "Fault",
    "FaultLayer",
    "FaultPlan",
    "is_write",
]

log = logging.getLogger(__name__)

#: The ``status`` of a fault that closes the connection instead of answering.
DROP = "drop"

#: The ``--set`` options that configure faults (see ``FaultPlan.from_options``).
FAULT_OPTIONS = (
    "fault_seed",
    "rate_limit",
    "rate_limit_reason",
    "rate_limit_retry_after",
    "rate_limit_reset_after",
    "rate_limit_path",
    "rate_limit_writes_only",
    "server_errors",
    "server_error_statuses",
    "server_error_retry_after",
    "server_error_path",
    "latency",
    "dropped_connections",
    "issue_write_limit",
    "create_fail_after_commit",
    "create_fail_after_commit_as",
)

_SERVER_ERRORS = (500, 502, 503)
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_SEARCHES = re.compile(r"/rest/api/[23]/search(/jql)?$")
_ISSUE_PATH = re.compile(
    r"/rest/api/[23]/issue/(?P<issue>[A-Za-z][A-Za-z0-9_]*-\d+|\d+)(?:/|$)"
)
# Jira writes X-RateLimit-Reset to the minute, in UTC.
_RESET_FORMAT = "%Y-%m-%dT%H:%MZ"


class DroppedConnection(httpx.RemoteProtocolError):
    """The emulator closed the connection without answering.

    Under ``httpx.ASGITransport`` the client sees this exception itself, an
    ``httpx.TransportError`` like any connection lost on the way.
    """


@dataclass
class Fault:
    """Answer matching API requests with ``status`` (a tuple: one of them at random),
    or close their connection when it is ``DROP``.

    ``remaining`` counts the requests still to fail (``None``: no end); each
    matching request fails with probability ``rate``. A request matches when its
    path starts with ``path`` and, with ``writes_only``, when it changes something.
    A 429 names ``reason`` and, with ``reset_after`` or a numeric ``retry_after``,
    carries ``X-RateLimit-Reset``. An ``after_commit`` fault hits only issue
    creates, after the issue is made.
    """

    status: int | str | tuple[int, ...]
    remaining: int | None = 1
    retry_after: float | str | None = None
    path: str = "/rest/"
    rate: float = 1.0
    reason: str = BURST
    reset_after: float | None = None
    writes_only: bool = False
    after_commit: bool = False

    def matches(self, method: str, path: str, *, after_commit: bool) -> bool:
        if self.after_commit != after_commit:
            return False
        if self.remaining is not None and self.remaining <= 0:
            return False
        if not path.startswith(self.path):
            return False
        return not self.writes_only or is_write(method, path)


def is_write(method: str, path: str) -> bool:
    """Whether a request changes something; the search APIs read by POST too."""
    return method in ("POST", "PUT", "PATCH", "DELETE") and not _SEARCHES.search(path)


class FaultPlan:
    """The faults a site makes, the latency it adds and whether it enforces Jira's
    per-issue write limit; one ``random.Random(seed)`` decides every roll, so a run
    with the same seed and the same requests fails the same way."""

    def __init__(self, seed: int | None = None) -> None:
        self.faults: list[Fault] = []
        self.latency: tuple[float, float] = (0.0, 0.0)
        self.issue_write_limit = False
        self._writes: dict[str, deque[float]] = {}
        self.reseed(seed)

    def reseed(self, seed: int | None) -> None:
        """Start the rolls again from ``seed`` (``None``: unpredictably)."""
        self.seed = seed
        self._random = random.Random(seed)

    def clear(self) -> None:
        """No faults, no latency, no write limit."""
        self.faults.clear()
        self.latency = (0.0, 0.0)
        self.issue_write_limit = False
        self._writes.clear()

    def add(
        self,
        status: int | str | tuple[int, ...],
        *,
        count: int | None = 1,
        retry_after: float | str | None = None,
        path: str = "/rest/",
        rate: float = 1.0,
        reason: str = BURST,
        reset_after: float | None = None,
        writes_only: bool = False,
        after_commit: bool = False,
    ) -> Fault:
        """Add a fault (see ``Fault``); refuses what no Jira would answer."""
        statuses = status if isinstance(status, tuple) else (status,)
        for one in statuses:
            if one != DROP and not (isinstance(one, int) and 400 <= one <= 599):
                raise ValueError(
                    f"fault status {one!r} is neither an HTTP error status (400-599) "
                    f"nor {DROP!r}; give, for example, 429, 503 or {DROP!r}"
                )
        if after_commit and any(one != DROP and one < 500 for one in statuses):
            raise ValueError(
                f"fault status {status!r} cannot come after the commit: Jira refuses "
                f"with 4xx before making anything; use a 5xx or {DROP!r}"
            )
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate {rate!r} is not between 0 and 1")
        if count is not None and count < 0:
            raise ValueError(f"fault count {count!r} is negative; give 0 or more")
        if isinstance(retry_after, bool) or not isinstance(
            retry_after, int | float | str | None
        ):
            raise ValueError(
                f"fault retry_after {retry_after!r} is neither seconds nor text; give "
                "a number, the header's text as it is to be sent, or nothing"
            )
        if reset_after is not None and (
            isinstance(reset_after, bool) or not isinstance(reset_after, int | float)
        ):
            raise ValueError(
                f"fault reset_after {reset_after!r} is not a number of seconds"
            )
        fault = Fault(
            status,
            count,
            retry_after,
            path,
            rate,
            reason,
            reset_after,
            writes_only,
            after_commit,
        )
        self.faults.append(fault)
        return fault

    def set_latency(self, low: float, high: float | None = None) -> None:
        """Delay every API answer ``low`` seconds, or a random time up to ``high``."""
        high = low if high is None else high
        if not 0.0 <= low <= high:
            raise ValueError(
                f"latency {low!r}..{high!r} is not a range of seconds from low to "
                "high, both 0 or more"
            )
        self.latency = (low, high)

    def delay(self) -> float:
        """Seconds to hold the next answer back."""
        low, high = self.latency
        return low if low == high else self._random.uniform(low, high)

    def pick(self, method: str, path: str, *, after_commit: bool) -> Fault | None:
        """The fault this request meets, with one status chosen, or ``None``."""
        for fault in self.faults:
            if not fault.matches(method, path, after_commit=after_commit):
                continue
            if fault.rate < 1.0 and self._random.random() >= fault.rate:
                continue
            if fault.remaining is not None:
                fault.remaining -= 1
            if not isinstance(fault.status, tuple):
                return fault
            status = self._random.choice(fault.status)
            # A Retry-After belongs to the 503s among the statuses.
            retry_after = fault.retry_after if status == 503 else None
            return replace(fault, status=status, retry_after=retry_after)
        return None

    def issue_write_wait(self, issue: str, now: float) -> float | None:
        """Seconds until a write to ``issue`` is allowed, or ``None`` when it is
        (and then it is counted)."""
        writes = self._writes.setdefault(issue, deque())
        longest = max(seconds for _, seconds in ISSUE_WRITE_WINDOWS)
        while writes and writes[0] <= now - longest:
            writes.popleft()
        free_at = now
        for most, seconds in ISSUE_WRITE_WINDOWS:
            recent = [moment for moment in writes if moment > now - seconds]
            if len(recent) >= most:
                free_at = max(free_at, recent[-most] + seconds)
        if free_at > now:
            return free_at - now
        writes.append(now)
        return None

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> FaultPlan:
        """The plan ``--set`` options describe; ``ValueError`` names a bad one."""
        seed = _option(options, "fault_seed", int, None)
        plan = cls(seed)
        # Drops first: a request whose connection is lost meets nothing else.
        dropped = _rate(options, "dropped_connections")
        if dropped:
            plan.add(DROP, count=None, rate=dropped)

        limited = _rate(options, "rate_limit")
        if limited:
            retry_after: float | None = None
            if options.get("rate_limit_retry_after", "").strip().lower() != "none":
                retry_after = _option(options, "rate_limit_retry_after", float, 1.0)
            plan.add(
                429,
                count=None,
                rate=limited,
                reason=options.get("rate_limit_reason", BURST).strip() or BURST,
                retry_after=retry_after,
                reset_after=_option(options, "rate_limit_reset_after", float, None),
                path=options.get("rate_limit_path", "/rest/"),
                writes_only=_flag(options, "rate_limit_writes_only"),
            )

        failing = _rate(options, "server_errors")
        if failing:
            plan.add(
                _statuses(options.get("server_error_statuses", "500,502,503")),
                count=None,
                rate=failing,
                retry_after=_option(options, "server_error_retry_after", float, None),
                path=options.get("server_error_path", "/rest/"),
            )

        latency = options.get("latency", "").strip()
        if latency:
            low, _, high = latency.partition("..")
            plan.set_latency(
                _number("latency", low, float),
                _number("latency", high, float) if high else None,
            )

        plan.issue_write_limit = _flag(options, "issue_write_limit")

        lost = _rate(options, "create_fail_after_commit")
        if lost:
            answer = options.get("create_fail_after_commit_as", DROP).strip().lower()
            if answer not in (DROP, "503"):
                raise ValueError(
                    f"create_fail_after_commit_as {answer!r} is not a way to lose an "
                    f"answer; use {DROP!r} or '503'"
                )
            plan.add(
                DROP if answer == DROP else 503,
                count=None,
                rate=lost,
                after_commit=True,
            )
        return plan


def _number(name: str, raw: str, kind: type) -> Any:
    try:
        value = kind(raw.strip())
    except ValueError:
        raise ValueError(
            f"{name} {raw!r} is not a {kind.__name__} number; for example "
            f"--set {name}={'2' if kind is int else '0.5'}"
        ) from None
    if kind is float and not math.isfinite(value):
        raise ValueError(f"{name} {raw!r} is not a finite number")
    return value


def _option(options: Mapping[str, str], name: str, kind: type, default: Any) -> Any:
    raw = options.get(name)
    if raw is None or not raw.strip():
        return default
    return _number(name, raw, kind)


def _rate(options: Mapping[str, str], name: str) -> float:
    rate = _option(options, name, float, 0.0)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(
            f"{name} {rate!r} is not a share of requests; give a number from 0 to "
            f"1, such as --set {name}=0.1"
        )
    return rate


def _flag(options: Mapping[str, str], name: str) -> bool:
    raw = options.get(name, "false").strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ValueError(f"{name} {raw!r} is not true or false; use --set {name}=true")


def _statuses(raw: str) -> tuple[int, ...]:
    statuses = tuple(
        _number("server_error_statuses", part, int)
        for part in raw.split(",")
        if part.strip()
    )
    unknown = [status for status in statuses if status not in _SERVER_ERRORS]
    if not statuses or unknown:
        raise ValueError(
            f"server_error_statuses {raw!r} must list some of 500, 502 and 503, "
            "such as --set server_error_statuses=502,503"
        )
    return statuses


# --- Answers ----------------------------------------------------------------------


def fault_rejection(fault: Fault, now: datetime) -> JiraRejection:
    """The answer a fault gives: Jira's error body with Jira's rate-limit headers."""
    status = fault.status
    if not isinstance(status, int):
        raise TypeError(f"fault status {status!r} is not one answer's status")
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        retry_after = fault.retry_after
        headers["Retry-After"] = (
            f"{retry_after:g}" if isinstance(retry_after, int | float) else retry_after
        )
    if status != 429:
        return JiraRejection(
            status, [f"The emulator was told to answer {status}."], headers=headers
        )

    headers["RateLimit-Reason"] = fault.reason
    reset_after = fault.reset_after
    if reset_after is None and isinstance(fault.retry_after, int | float):
        reset_after = float(fault.retry_after)
    if reset_after is not None:
        headers["X-RateLimit-Reset"] = _reset(now, reset_after)
    return JiraRejection(429, ["Rate limit exceeded."], headers=headers)


def issue_write_rejection(wait: float, now: datetime) -> JiraRejection:
    """Jira's 429 for a write over the per-issue limit."""
    seconds = max(1, math.ceil(wait))
    return JiraRejection(
        429,
        ["Rate limit exceeded."],
        headers={
            "Retry-After": str(seconds),
            "RateLimit-Reason": PER_ISSUE,
            "X-RateLimit-Reset": _reset(now, seconds),
        },
    )


def _reset(now: datetime, seconds: float) -> str:
    return (now + timedelta(seconds=seconds)).strftime(_RESET_FORMAT)


# --- The layer around the API -------------------------------------------------------


class FaultLayer:
    """ASGI middleware making the faults of ``site.faults`` on every API request.

    Faults are made before the request reaches its handler, so a refused request
    changes nothing; only ``after_commit`` faults come after a create was made.
    """

    def __init__(self, app: ASGIApp, site: EmulatedJira) -> None:
        self.app = app
        self.site = site

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_emulator/"):
            await self.app(scope, receive, send)
            return
        site, plan = self.site, self.site.faults
        method, path = scope["method"], scope["path"]

        delay = plan.delay()
        if delay > 0:
            await site.sleep(delay)

        fault = plan.pick(method, path, after_commit=False)
        if fault is not None:
            await self._fail(fault, scope, receive, send, status_if_dropped=500)
            return

        issue = self._written_issue(method, path)
        if issue is not None and plan.issue_write_limit:
            wait = plan.issue_write_wait(issue, site.monotonic())
            if wait is not None:
                log.debug("emulator.issue_write_limit", extra={"issue": issue})
                rejection = issue_write_rejection(wait, site.clock())
                await _answer(rejection, scope, receive, send)
                return

        if method == "POST" and path == f"{site.api_root}/issue":
            await self._create(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _create(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The answer is held back until it is known whether it is to be lost.
        answer: list[Message] = []

        async def keep(message: Message) -> None:
            answer.append(message)

        await self.app(scope, receive, keep)
        made = bool(answer) and answer[0].get("status") == 201
        fault = (
            self.site.faults.pick(scope["method"], scope["path"], after_commit=True)
            if made
            else None
        )
        if fault is not None:
            await self._fail(fault, scope, receive, send, status_if_dropped=201)
            return
        for message in answer:
            await send(message)

    async def _fail(
        self,
        fault: Fault,
        scope: Scope,
        receive: Receive,
        send: Send,
        *,
        status_if_dropped: int,
    ) -> None:
        log.debug(
            "emulator.fault",
            extra={"status": fault.status, "path": scope["path"]},
        )
        if fault.status != DROP:
            await _answer(
                fault_rejection(fault, self.site.clock()), scope, receive, send
            )
            return
        # ASGI lets an app end a connection only by failing after its answer has
        # begun: under uvicorn the status line goes out and the connection closes
        # before the body; ASGITransport hands the exception to the client.
        await send(
            {
                "type": "http.response.start",
                "status": status_if_dropped,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"2"),
                ],
            }
        )
        raise DroppedConnection("Server disconnected without sending a response.")

    def _written_issue(self, method: str, path: str) -> str | None:
        """The id of the issue a write changes (``None`` for other requests)."""
        if not is_write(method, path):
            return None
        found = _ISSUE_PATH.match(path)
        if found is None or not path.startswith(self.site.api_root):
            return None
        raw = found.group("issue")
        try:
            return self.site.issue(raw).id
        except JiraRejection:
            return raw


async def _answer(
    rejection: JiraRejection, scope: Scope, receive: Receive, send: Send
) -> None:
    response = JSONResponse(
        rejection.body(), rejection.status, headers=rejection.headers
    )
    await response(scope, receive, send)


class QuietDrops(logging.Filter):
    """Keeps uvicorn from logging each dropped connection as an application error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.exc_info and isinstance(record.exc_info[1], DroppedConnection)
        )
