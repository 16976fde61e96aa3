"""Reading a ``Retry-After`` header into seconds, whatever a server put in it."""

from __future__ import annotations

import re
from datetime import UTC
from email.utils import parsedate_to_datetime

__all__ = ["MAX_RETRY_AFTER", "retry_after_seconds"]

#: The longest wait a Retry-After is taken to ask for: a huge or mistaken value
#: must not park work for days.
MAX_RETRY_AFTER = 3600.0

_SECONDS = re.compile(r"\d+(?:\.\d+)?")


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value, from 0 to :data:`MAX_RETRY_AFTER`.

    The value is whole seconds (decimals are accepted) or an HTTP date, counted
    from ``now`` (seconds since the epoch); a date gone by means 0. A missing,
    negative or unreadable value gives ``None``: the caller waits as it would
    without the header.
    """
    if value is None:
        return None
    text = value.strip()
    if _SECONDS.fullmatch(text):
        # float() reads a number of any length, at worst as infinity.
        return min(float(text), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        # RFC 5322's "-0000": a time in UTC whose local zone is unknown.
        when = when.replace(tzinfo=UTC)
    try:
        wait = when.timestamp() - now
    except (OverflowError, ValueError):
        return None
    return min(max(0.0, wait), MAX_RETRY_AFTER)
