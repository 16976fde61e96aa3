"""Failures the Caspio emulator injects on purpose: what to inject, and how often.

A test sets them with ``EmulatorState.set_faults``, an operator with
``--set fault_...`` options; one seeded random generator makes runs repeatable.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import httpx
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

__all__ = [
    "DROP_SCOPE_KEY",
    "FAULT_OPTION_PREFIX",
    "NO_FAULT",
    "Faults",
    "Injection",
    "NoAnswer",
    "drop_connection",
]

#: ``--set`` options starting with this configure :class:`Faults`.
FAULT_OPTION_PREFIX = "fault_"

#: The scope key a handler sets to have the connection dropped instead of answered.
DROP_SCOPE_KEY = "caspira.emulator.drop"

_SERVER_ERRORS = (500, 502, 503)
_WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_API_PREFIX = "/integrations/rest/"


@dataclass(frozen=True)
class Injection:
    """What happens to one request: at most one failure, and a delay before it."""

    status: int | None = None
    drop: bool = False
    lost_write: bool = False
    token_expiry: bool = False
    delay: float = 0.0


#: What a request out of the faults' reach gets.
NO_FAULT = Injection()


@dataclass(frozen=True)
class Faults:
    """How often the emulator fails, and where. Every rate is from 0 to 1.

    ``rate_429`` answers 429 with ``Retry-After``; ``rate_5xx`` answers 500 (Caspio's
    ``InternalError``), 502 (an HTML page, as a gateway sends) or 503 (with
    ``Retry-After``), one of the three at random; ``rate_drop`` accepts the request
    and closes the connection without an answer. These three are drawn once per
    request, so their sum is at most 1, and strike before anything is changed.
    ``rate_lost_write`` loses the answer of a record write after the write is done;
    ``rate_token_expiry`` ends a token that has already served a call before its
    time, so the call is refused as with an expired token. ``latency`` is seconds
    added to every request, or ``(low, high)`` for a random delay in that range.
    ``retry_after`` is sent as is (``None`` sends no header). ``path`` limits the
    faults to request paths starting with it, ``writes_only`` to API calls that are
    not GET. ``seed`` makes the draws repeatable.
    """

    rate_429: float = 0.0
    rate_5xx: float = 0.0
    rate_drop: float = 0.0
    rate_lost_write: float = 0.0
    rate_token_expiry: float = 0.0
    latency: tuple[float, float] = (0.0, 0.0)
    retry_after: str | None = "1"
    path: str = ""
    writes_only: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in (
            "rate_429",
            "rate_5xx",
            "rate_drop",
            "rate_lost_write",
            "rate_token_expiry",
        ):
            rate = getattr(self, name)
            if not (isinstance(rate, int | float) and 0 <= rate <= 1):
                raise ValueError(
                    f"emulator fault {name}={rate!r} is not a rate; give a number "
                    "from 0 (never) to 1 (always)"
                )
        exclusive = self.rate_429 + self.rate_5xx + self.rate_drop
        if exclusive > 1:
            raise ValueError(
                f"emulator faults rate_429 + rate_5xx + rate_drop add up to "
                f"{exclusive:g}; a request fails in one way at most, so lower them "
                "to a sum of 1 or less"
            )
        low, high = self.latency
        if not (math.isfinite(low) and math.isfinite(high) and 0 <= low <= high):
            raise ValueError(
                f"emulator fault latency={self.latency!r} is not a delay; give "
                "seconds, or (low, high) with 0 <= low <= high"
            )

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> Faults:
        """Read ``--set fault_<name>=<text>`` options, the prefix already removed."""
        known = {spec.name for spec in fields(cls)}
        arguments: dict[str, Any] = {}
        for name, text in options.items():
            if name not in known:
                choices = ", ".join(FAULT_OPTION_PREFIX + n for n in sorted(known))
                raise ValueError(
                    f"unknown Caspio emulator option {FAULT_OPTION_PREFIX + name!r}; "
                    f"the fault options are {choices}"
                )
            arguments[name] = _option_value(name, text)
        return cls(**arguments)

    @property
    def active(self) -> bool:
        return any(
            (
                self.rate_429,
                self.rate_5xx,
                self.rate_drop,
                self.rate_lost_write,
                self.rate_token_expiry,
                self.latency[1],
            )
        )

    def applies_to(self, method: str, path: str) -> bool:
        """Whether a request to ``path`` with ``method`` is in the faults' reach."""
        if not path.startswith(self.path):
            return False
        if self.writes_only:
            return method in _WRITE_METHODS and path.startswith(_API_PREFIX)
        return True

    def draw(self, rng: random.Random, method: str, path: str) -> Injection:
        """The faults of one request; none for a request out of reach.

        Every request in reach takes the same number of draws, whatever comes out,
        so a seeded run repeats when the same requests arrive in the same order.
        """
        if not self.active or not self.applies_to(method, path):
            return NO_FAULT
        failure, pick = rng.random(), rng.choice(_SERVER_ERRORS)
        lost, expiry = rng.random(), rng.random()
        delay = rng.uniform(*self.latency)

        status, drop = None, False
        if failure < self.rate_429:
            status = 429
        elif failure < self.rate_429 + self.rate_5xx:
            status = pick
        elif failure < self.rate_429 + self.rate_5xx + self.rate_drop:
            drop = True
        return Injection(
            status=status,
            drop=drop,
            lost_write=lost < self.rate_lost_write,
            token_expiry=expiry < self.rate_token_expiry,
            delay=delay,
        )


def _option_value(name: str, text: str) -> Any:
    try:
        if name.startswith("rate_"):
            return float(text)
        if name == "latency":
            return _latency(text)
        if name == "seed":
            return int(text)
        if name == "writes_only":
            return _flag(text)
    except ValueError:
        raise ValueError(
            f"emulator option {FAULT_OPTION_PREFIX}{name}={text!r} cannot be read; "
            f"{_OPTION_FORMS[name]}"
        ) from None
    if name == "retry_after":
        # An empty value sends no Retry-After at all.
        return text or None
    return text


_OPTION_FORMS = {
    "rate_429": "give a rate from 0 to 1, like 0.2",
    "rate_5xx": "give a rate from 0 to 1, like 0.2",
    "rate_drop": "give a rate from 0 to 1, like 0.2",
    "rate_lost_write": "give a rate from 0 to 1, like 0.2",
    "rate_token_expiry": "give a rate from 0 to 1, like 0.2",
    "latency": "give seconds (0.2) or a range of seconds (0.1-0.5)",
    "seed": "give a whole number",
    "writes_only": "give true or false",
}


def _latency(text: str) -> tuple[float, float]:
    try:
        fixed = float(text)
    except ValueError:
        low, _, high = text.partition("-")
        return float(low), float(high)
    return fixed, fixed


def _flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValueError(text)


class NoAnswer(Response):
    """What an endpoint returns to have its connection dropped instead of answered.

    It sends nothing: it marks the request's scope, and the emulator's app drops
    the connection once the request has gone through Starlette.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope[DROP_SCOPE_KEY] = True


async def drop_connection(send: Any) -> None:
    """Close the connection of the request ``send`` answers, without an answer.

    ASGI has no message for this. Under uvicorn, ``send`` is a method of the
    connection's request cycle, which holds the socket's transport: that is
    aborted, and the server, told the client is gone, sends nothing. Elsewhere
    (``httpx.ASGITransport`` in tests) the error a client would see is raised.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if not isinstance(transport, asyncio.Transport) or not hasattr(
        cycle, "disconnected"
    ):
        raise httpx.RemoteProtocolError(
            "Server disconnected without sending a response."
        )

    transport.abort()
    # The server learns of the loss on a later turn of the loop; until then it
    # would answer 500 for an app that returned without answering.
    for _ in range(100):
        if cycle.disconnected:
            return
        await asyncio.sleep(0)
