"""Caspio's value conventions: dates without zone, list fields as objects, Yes/No."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

__all__ = ["format_datetime", "list_texts", "parse_datetime"]


def parse_datetime(text: str | None, zone: tzinfo | None = None) -> datetime | None:
    """Read a Caspio date such as ``2026-01-16T19:52:55``.

    Caspio writes dates in the account's time zone without saying which: pass that
    ``zone`` to get an aware value; without it the value stays naive. A date that
    does carry an offset keeps it.
    """
    if text is None or text == "":
        return None
    value = datetime.fromisoformat(text)
    if zone is not None and value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value


def format_datetime(value: datetime, zone: tzinfo = UTC) -> str:
    """Write a date the way Caspio stores it: seconds precision, no zone.

    An aware value is converted to ``zone``, the account's time zone, first,
    because Caspio cannot keep a zone; a naive value is written as it is.
    """
    if value.tzinfo is not None:
        value = value.astimezone(zone).replace(tzinfo=None)
    return value.replace(microsecond=0).isoformat()


def list_texts(value: Any) -> list[str]:
    """The chosen texts of a list field, in the order of their ids.

    Caspio answers list fields as objects like ``{"1": "Hardware", "3": "Access"}``;
    a plain string or a list is accepted too, and ``None`` means nothing chosen.
    """
    if value is None:
        return []
    if isinstance(value, dict):
        return [str(value[key]) for key in sorted(value, key=_id_order)]
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return [str(value)]


def _id_order(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (0, key)
