"""Read a Caspio webhook body defensively, and refuse what no store can hold.

Everything here refuses with ``WebhookRejected(400, ...)``; nothing else escapes.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from caspira_hookspecs import WebhookRejected

__all__ = [
    "MAX_RECORD_NUMBER",
    "check_row",
    "check_text",
    "read_delivery",
    "record_number",
    "shown",
]

#: The largest ``PK_ID`` taken as a record number: the range of a signed 64-bit
#: column, far beyond any AUTONUMBER Caspio hands out.
MAX_RECORD_NUMBER = 2**63 - 1

# Caspio's values are numbers, text and flat list-field objects. Deeper nesting
# comes from no real table, and would only risk recursion limits further on.
_MAX_DEPTH = 16
# Well below Python's own int-parsing limit, which raises a bare ValueError.
_MAX_DIGITS = 1000
_SHOWN_CHARS = 40
_DIGITS = re.compile(r"[0-9]+")


def read_delivery(body: bytes) -> dict[str, Any]:
    """The delivery as a JSON object, or a 400 that says why it cannot be read."""
    try:
        delivery = json.loads(
            body,
            parse_int=_whole,
            parse_float=_finite,
            parse_constant=_no_constant,
        )
    except RecursionError:
        raise WebhookRejected(
            400, "body is nested too deeply to be a delivery"
        ) from None
    except ValueError:
        # Also UnicodeDecodeError and JSONDecodeError, both ValueErrors.
        raise WebhookRejected(400, "body is not JSON") from None
    if not isinstance(delivery, dict):
        raise WebhookRejected(400, "body is not a JSON object")
    return delivery


def _whole(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > _MAX_DIGITS:
        raise WebhookRejected(
            400,
            f"body holds a number of {digits} digits; Caspio sends numbers of at "
            f"most {_MAX_DIGITS} digits, so send only what a Caspio field holds",
        )
    return int(text)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise WebhookRejected(
            400,
            f"body holds the number {_clipped(text)}, too large for a Caspio "
            "field or for storing",
        )
    return value


def _no_constant(name: str) -> Any:
    raise WebhookRejected(
        400, f"body holds {name}, which is not a JSON number; send numbers only"
    )


def record_number(value: Any) -> str | None:
    """A ``PK_ID`` as one canonical text (``"0123"``, ``123.0`` -> ``"123"``).

    ``None`` unless ``value`` is a whole number from 1 to :data:`MAX_RECORD_NUMBER`,
    given as a JSON number or as digits in a text (surrounding spaces allowed).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    elif isinstance(value, str):
        digits = value.strip()
        if not _DIGITS.fullmatch(digits):
            return None
        # Leading zeros do not make a number larger, only its text longer.
        digits = digits.lstrip("0") or "0"
        if len(digits) > len(str(MAX_RECORD_NUMBER)):
            return None
        value = int(digits)
    if not isinstance(value, int) or not 1 <= value <= MAX_RECORD_NUMBER:
        return None
    return str(value)


def check_text(text: str, name: str) -> None:
    """Refuse ``text`` (the delivery's ``name``) when it cannot be stored."""
    problem = _text_problem(text)
    if problem is not None:
        raise WebhookRejected(
            400, f"{name} {problem}, which no store can keep; send Caspio's own {name}"
        )


def check_row(row: dict[str, Any], label: str) -> None:
    """Refuse a row (``label`` names it, e.g. ``"record 123"``) that cannot be stored.

    Field names and text values must be free of NUL characters (PostgreSQL keeps
    none in text or JSON) and of unpaired surrogates (UTF-8 cannot encode them);
    values may nest at most 16 levels.
    """
    for field, value in row.items():
        problem = _text_problem(field)
        if problem is not None:
            raise WebhookRejected(
                400,
                f"{label}: field name {shown(field)} {problem}; rename the field in "
                "Caspio",
            )
        problem = _value_problem(value)
        if problem is not None:
            raise WebhookRejected(
                400,
                f"{label}, field {shown(field)}: {problem}; correct the value in "
                "Caspio",
            )


def _value_problem(value: Any) -> str | None:
    # A loop, not recursion: the depth is checked before anything else recurses.
    pending = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            problem = _text_problem(item)
            if problem is not None:
                return problem
            continue
        if not isinstance(item, dict | list):
            continue
        if depth >= _MAX_DEPTH:
            return f"nests more than {_MAX_DEPTH} levels deep"
        if isinstance(item, dict):
            for key in item:
                problem = _text_problem(key)
                if problem is not None:
                    return f"a key {problem}"
        members = item.values() if isinstance(item, dict) else item
        pending.extend((member, depth + 1) for member in members)
    return None


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "holds a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"holds an unpaired surrogate ({ascii(exc.object[exc.start])[1:-1]})"
    return None


def shown(value: Any) -> str:
    """``value`` for a message: short, escaped, and never a whole nested structure."""
    if isinstance(value, dict):
        return "a JSON object"
    if isinstance(value, list):
        return "a JSON array"
    if isinstance(value, str):
        # Only the start is shown, so only the start is escaped.
        value = value[:_SHOWN_CHARS]
    return _clipped(repr(value))


def _clipped(text: str) -> str:
    if len(text) <= _SHOWN_CHARS:
        return text
    return text[: _SHOWN_CHARS - 3] + "..."
