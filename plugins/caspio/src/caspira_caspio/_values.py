"""Caspio's value conventions: dates without zone, list fields as objects, Yes/No."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["format_datetime", "list_texts", "parse_datetime"]


def parse_datetime(text: str | None) -> datetime | None:
    """Read a Caspio date such as ``2026-01-16T19:52:55``; the result has no zone.

    Caspio sends dates in the account's own time zone without saying which, so the
    value is kept naive rather than guessed.
    """
    if text is None or text == "":
        return None
    return datetime.fromisoformat(text)


def format_datetime(value: datetime) -> str:
    """Write a date the way Caspio stores it: seconds precision, no zone.

    An aware value is converted to UTC first, because Caspio cannot keep a zone.
    """
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
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
