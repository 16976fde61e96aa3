"""Build ``q.where`` clauses safely: field names checked, string quotes doubled."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from caspira_caspio._values import format_datetime

__all__ = ["sql_literal", "where_equals", "where_in"]

_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def sql_literal(value: Any) -> str:
    """A value as Caspio's SQL reads it: strings quoted with ``'`` doubled inside.

    Yes/No values compare as 1 and 0; dates are written without zone.
    """
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return _quoted(format_datetime(value))
    if isinstance(value, date):
        return _quoted(value.isoformat())
    if isinstance(value, str):
        return _quoted(value)
    raise TypeError(
        f"cannot write {type(value).__name__} value {value!r} into q.where; "
        "pass a str, int, float, bool, date or datetime"
    )


def where_equals(field: str, value: Any) -> str:
    """``field = value`` for ``q.where``; ``None`` becomes ``field IS NULL``."""
    _check_field(field)
    if value is None:
        return f"{field} IS NULL"
    return f"{field}={sql_literal(value)}"


def where_in(field: str, values: Iterable[Any]) -> str:
    """``field IN (...)`` for ``q.where``; long lists may pass the URI limit."""
    _check_field(field)
    literals = [sql_literal(value) for value in values]
    if not literals:
        raise ValueError(f"where_in({field!r}) needs at least one value")
    return f"{field} IN ({','.join(literals)})"


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _check_field(field: str) -> None:
    if not _FIELD_NAME.match(field):
        raise ValueError(
            f"{field!r} is not a Caspio field name; use letters, digits and "
            "underscores, starting with a letter"
        )
