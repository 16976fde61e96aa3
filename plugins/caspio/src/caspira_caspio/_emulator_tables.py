"""The emulator's tables: field definitions, and values checked into stored form.

Stored values already have the form Caspio answers: dates without zone (in the
account's time zone), list fields as ``{id: text}`` objects, Yes/No as booleans.
"""

from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any

from caspira_caspio._emulator_query import (
    DATE_TYPES,
    QueryError,
    compile_where,
    parse_order_by,
    sort_key,
)

__all__ = [
    "ApiError",
    "Field",
    "Table",
    "body_error",
    "field_from_definition",
    "is_name",
]

GENERATED_TYPES = frozenset({"AUTONUMBER", "PREFIXED AUTONUMBER", "GUID", "RANDOM ID"})
VALUE_TYPES = frozenset(
    {
        "STRING",
        "TEXT",
        "NUMBER",
        "INTEGER",
        "CURRENCY",
        "YES/NO",
        "DATE/TIME",
        "TIMESTAMP",
        "LIST-STRING",
        "LIST-NUMBER",
        "LIST-DATE/TIME",
        "FILE",
    }
)
_STRING_LIMIT = 255
_TEXT_LIMIT = 64000


class ApiError(Exception):
    """An answer in Caspio's error shape: ``{"Code", "Message", ...}``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


@dataclass
class Field:
    """One field of a table, as ``POST /v3/tables`` defined it."""

    name: str
    type: str
    unique: bool = False
    unique_allow_nulls: bool = False
    label: str = ""
    description: str = ""
    display_order: int = 0
    prefix: str = ""
    format: str = ""
    length: int = 12
    choices: dict[str, str] = field(default_factory=dict)

    @property
    def editable(self) -> bool:
        return self.type not in GENERATED_TYPES

    def describe(self) -> dict[str, Any]:
        """The field as ``GET /v3/tables/{table}/fields`` answers it."""
        answer: dict[str, Any] = {
            "Name": self.name,
            "Type": self.type,
            "Unique": self.unique,
            "Editable": self.editable,
            "Description": self.description,
            "DisplayOrder": self.display_order,
            "Label": self.label,
            "UniqueAllowNulls": self.unique_allow_nulls,
            "IsFormula": False,
        }
        if self.type == "PREFIXED AUTONUMBER":
            answer["Prefix"] = self.prefix
            answer["Format"] = self.format
        if self.type.startswith("LIST-"):
            answer["ListField"] = dict(self.choices)
        return answer


@dataclass
class Table:
    """A table: its fields in order and its records by ``PK_ID``."""

    name: str
    fields: dict[str, Field]
    object_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    records: dict[int, dict[str, Any]] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)
    zone: tzinfo = UTC

    @property
    def types(self) -> dict[str, str]:
        return {name: spec.type for name, spec in self.fields.items()}

    def render(
        self, record: Mapping[str, Any], select: list[str] | None = None
    ) -> dict[str, Any]:
        """A stored record as the API answers it; values are stored in answer form."""
        names = select if select is not None else list(self.fields)
        return {name: record.get(name) for name in names}

    def matching(self, where: str | None, order_by: str | None = None) -> list[dict]:
        """Stored records matching ``where``, in ``order_by`` order or by ``PK_ID``."""
        try:
            test = compile_where(where, self.types) if where else None
            order = parse_order_by(order_by, self.types)
            rows = [row for row in self.records.values() if test is None or test(row)]
            for name, descending in reversed(order):
                field_type = self.fields[name].type
                rows.sort(
                    key=lambda row, n=name, t=field_type: sort_key(t, row.get(n)),
                    reverse=descending,
                )
        except QueryError as exc:
            raise ApiError(400, "SqlServerError", str(exc)) from None
        return rows

    def stored_value(self, name: str, value: Any) -> Any:
        """``value`` checked against field ``name`` and put in its stored form."""
        spec = self.fields.get(name)
        if spec is None:
            raise body_error(f"field {name!r} does not exist in table {self.name!r}")
        if not spec.editable:
            raise body_error(f"field {name!r} of table {self.name!r} is not editable")
        if value is None:
            return None
        kind = spec.type
        try:
            if kind in ("STRING", "TEXT", "FILE"):
                return _stored_text(name, kind, value)
            if kind in ("NUMBER", "CURRENCY"):
                return _stored_number(value)
            if kind == "INTEGER":
                return _stored_integer(value)
            if kind == "YES/NO":
                return _stored_yes_no(value)
            if kind in DATE_TYPES:
                return _stored_date(value, self.zone)
            return _stored_choices(spec, value)
        except (TypeError, ValueError) as exc:
            shown = value if len(repr(value)) <= 60 else f"{str(value)[:40]}..."
            raise body_error(
                f"value {shown!r} does not fit field {name!r}: {exc}"
            ) from None

    def generated_values(self) -> dict[str, Any]:
        """Values Caspio fills in on insert: ``PK_ID`` and other generated fields."""
        values: dict[str, Any] = {}
        for name, spec in self.fields.items():
            if spec.type == "AUTONUMBER":
                values[name] = self._next(name)
            elif spec.type == "PREFIXED AUTONUMBER":
                number = str(self._next(name)).rjust(len(spec.format), "0")
                values[name] = f"{spec.prefix}{number}"
            elif spec.type == "GUID":
                values[name] = str(uuid.uuid4())
            elif spec.type == "RANDOM ID":
                alphabet = string.ascii_uppercase + string.digits
                values[name] = "".join(
                    secrets.choice(alphabet) for _ in range(spec.length)
                )
        return values

    def check_unique(self, candidate: Mapping[str, Any], pk_id: int | None) -> None:
        for name, spec in self.fields.items():
            value = candidate.get(name)
            if not spec.unique or value is None or spec.type in GENERATED_TYPES:
                continue
            for other_id, other in self.records.items():
                if other_id != pk_id and other.get(name) == value:
                    raise ApiError(
                        400,
                        "SqlServerError",
                        f"field {name!r} of table {self.name!r} is unique and "
                        "another record already has this value",
                    )

    def _next(self, name: str) -> int:
        self.counters[name] = self.counters.get(name, 0) + 1
        return self.counters[name]


def field_from_definition(definition: Any, order: int) -> Field:
    if not isinstance(definition, Mapping):
        raise body_error("each item of Fields must be an object")
    name = definition.get("Name")
    kind = definition.get("Type")
    if not isinstance(name, str) or not is_name(name):
        raise body_error(f"field name {name!r} must be letters, digits or _")
    if name == "PK_ID":
        raise body_error("PK_ID is created by Caspio; leave it out of Fields")
    if not isinstance(kind, str) or kind.upper() not in GENERATED_TYPES | VALUE_TYPES:
        raise body_error(f"field {name!r}: type {kind!r} is not supported")
    kind = kind.upper()
    unique = bool(definition.get("Unique"))
    if kind in GENERATED_TYPES and not unique:
        raise body_error(f"field {name!r}: {kind} fields must have Unique = true")
    choices = {
        str(number): str(text)
        for number, text in enumerate(definition.get("ListField") or [], start=1)
    }
    return Field(
        name=name,
        type=kind,
        unique=unique,
        unique_allow_nulls=bool(definition.get("UniqueAllowNulls")),
        label=str(definition.get("Label") or ""),
        description=str(definition.get("Description") or ""),
        display_order=int(definition.get("DisplayOrder") or order),
        prefix=str(definition.get("Prefix") or ""),
        format=str(definition.get("Format") or ""),
        length=int(definition.get("Length") or 12),
        choices=choices,
    )


def _stored_text(name: str, kind: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError("expected text")
    text = str(value)
    if kind == "STRING" and len(text) > _STRING_LIMIT:
        raise ValueError(f"a STRING field holds at most {_STRING_LIMIT} characters")
    if kind == "TEXT" and len(text) > _TEXT_LIMIT:
        raise ValueError(f"a TEXT field holds at most {_TEXT_LIMIT:,} characters")
    return text


def _stored_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise TypeError("expected a number")
    if isinstance(value, int | float):
        return value
    number = float(str(value))
    return int(number) if number.is_integer() else number


def _stored_integer(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise TypeError("expected a whole number")
    return int(value)


def _stored_yes_no(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    raise TypeError("expected true, false, 1 or 0")


def _stored_date(value: Any, zone: tzinfo) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a date like 2026-01-16T19:52:55")
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(zone).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat()


def _stored_choices(spec: Field, value: Any) -> dict[str, str] | None:
    """A list field's selection as ``{id: text}``, from ids, texts or an object."""
    if isinstance(value, Mapping):
        wanted = [str(key) for key in value]
    elif isinstance(value, list | tuple):
        wanted = [str(item) for item in value]
    else:
        wanted = [str(value)]
    by_text = {text: number for number, text in spec.choices.items()}
    chosen = {}
    for item in wanted:
        number = item if item in spec.choices else by_text.get(item)
        if number is None:
            raise ValueError(
                f"{item!r} is not in the list; choose from "
                f"{', '.join(spec.choices.values())}"
            )
        chosen[number] = spec.choices[number]
    ordered = dict(sorted(chosen.items(), key=lambda pair: int(pair[0])))
    return ordered or None


def is_name(text: str) -> bool:
    return text.replace("_", "a").isalnum() and text.isascii() and not text[0].isdigit()


def body_error(message: str) -> ApiError:
    return ApiError(400, "IncorrectBodyParameter", message)
