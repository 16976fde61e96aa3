"""Jira fields as a create screen describes them, and how a plain value fits each:
``shape_value`` gives the JSON a field's schema takes, or a ``MappingError``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from caspira_hookspecs import MappingError, User
from caspira_jira._adf import adf_to_text, map_adf_text
from caspira_jira._dialect import Dialect
from caspira_jira._text import (
    SUMMARY_LIMIT,
    TEXT_LIMIT,
    clean_text,
    cut_text,
    is_blank,
    jira_length,
    prefix_within,
    trim_unseen,
)
from caspira_jira._wiki import text_to_wiki

__all__ = [
    "SUMMARY_LIMIT",
    "TEXT_LIMIT",
    "FieldSpec",
    "clean_label",
    "clean_labels",
    "field_kind",
    "fit_summary",
    "rich_text_length",
    "shape_value",
]

log = logging.getLogger(__name__)

_ELLIPSIS = "…"
_RICH_TEXT_SYSTEM_FIELDS = {"description", "environment"}
_CUSTOM_TYPE_PREFIX = "com.atlassian.jira.plugin.system.customfieldtypes:"
_LIST_KINDS = ("options", "named_list", "labels", "strings", "users")
# How far back a cut summary looks for a blank to end on a whole word.
_SUMMARY_WORD_WINDOW = 40


@dataclass(frozen=True)
class FieldSpec:
    """One field on a create screen: its id, display name, schema and allowed values."""

    id: str
    name: str
    schema: dict[str, Any]
    allowed_values: tuple[dict[str, Any], ...] | None = None
    required: bool = False

    @property
    def kind(self) -> str:
        return field_kind(self.schema)

    @property
    def title(self) -> str:
        """How messages name the field: ``Customer Impact (customfield_10041)``."""
        return self.name if self.name == self.id else f"{self.name} ({self.id})"

    @property
    def empty_value(self) -> list[Any] | None:
        """What an edit sends to empty the field: ``[]`` for a list field (components,
        multi-selects, labels, user lists), ``null`` for any other."""
        return [] if self.kind in _LIST_KINDS else None


def field_kind(schema: dict[str, Any]) -> str:
    """The shape a field with this schema takes, one of the kinds ``shape_value`` knows.

    ``rich_text``, ``text``, ``option``, ``options``, ``named`` (priority, resolution,
    a version or a component), ``named_list``, ``labels``, ``strings``, ``date``,
    ``datetime``, ``number``, ``user``, ``users``; anything else is ``unsupported``.
    """
    kind = schema.get("type")
    items = schema.get("items")
    system = schema.get("system")
    custom = schema.get("custom") or ""
    if kind == "string":
        if (
            system in _RICH_TEXT_SYSTEM_FIELDS
            or custom == _CUSTOM_TYPE_PREFIX + "textarea"
        ):
            return "rich_text"
        return "text"
    if kind in ("priority", "resolution", "component", "version"):
        return "named"
    if kind in ("option", "date", "datetime", "number", "user"):
        return kind
    if kind == "array":
        if items == "option":
            return "options"
        if items in ("component", "version"):
            return "named_list"
        if items == "user":
            return "users"
        if items == "string":
            is_labels = system == "labels" or custom == _CUSTOM_TYPE_PREFIX + "labels"
            return "labels" if is_labels else "strings"
    return "unsupported"


def fit_summary(title: str, *, record_id: str) -> tuple[str, str | None]:
    """A summary Jira accepts for ``title``, and the full title when it had to change.

    Control characters are removed (``clean_text``), blanks and zero-width characters
    at either end trimmed, and line breaks and runs of blanks become single spaces. A
    title Jira counts as longer than 255 (UTF-16 code units, see ``SUMMARY_LIMIT``) is
    cut at the last word that fits and ends with an ellipsis. The second value is
    ``None`` when nothing was lost, else the cleaned title, for the caller to keep at
    the top of the description. A title that shows nothing, such as one made only of
    zero-width spaces, is a ``MappingError`` naming ``record_id``: Jira would take it
    as a summary no one can read.
    """
    title = trim_unseen(clean_text(title))
    if is_blank(title):
        raise MappingError(
            record_id,
            "summary",
            f"the title {title[:40]!r} shows nothing (only blanks, zero-width or "
            "control characters), so the issue summary would be empty",
            "give the record a title with visible text, or give the flow's summary "
            "rule a default",
        )
    one_line = trim_unseen(" ".join(title.split()))
    too_long = jira_length(one_line) > SUMMARY_LIMIT
    changed = too_long or "\n" in title
    if not too_long:
        return one_line, title if changed else None

    cut = prefix_within(one_line, SUMMARY_LIMIT - jira_length(_ELLIPSIS))
    if not one_line[len(cut)].isspace():
        blank = cut.rfind(" ", max(0, len(cut) - _SUMMARY_WORD_WINDOW))
        if blank > 0:
            cut = cut[:blank]
    return cut.rstrip() + _ELLIPSIS, title


def clean_label(label: str) -> str:
    """A label Jira accepts: each run of blanks (spaces, tabs, breaks) becomes a hyphen.

    ``"Web Portal"`` becomes ``"Web-Portal"``. Jira refuses labels with spaces, and a
    hyphen keeps the words apart the way a Jira user would type them. Control
    characters are removed, a label that shows nothing becomes empty, and a label is
    cut to the 255 UTF-16 code units Jira holds.
    """
    text = clean_text(str(label))
    if is_blank(text):
        return ""
    return prefix_within("-".join(text.split()), SUMMARY_LIMIT)


def clean_labels(labels: Iterable[Any]) -> list[str]:
    """Labels cleaned by ``clean_label``, empty ones dropped, duplicates kept once."""
    cleaned: list[str] = []
    for label in labels:
        text = clean_label(label)
        if text and text not in cleaned:
            cleaned.append(text)
    return cleaned


def shape_value(
    spec: FieldSpec, value: Any, *, key: str, record_id: str, dialect: Dialect
) -> Any:
    """The JSON value ``spec``'s field takes for ``value``; ``None`` stays ``None``.

    ``key`` is the field as the flow names it, so errors point at the configuration.
    User fields take a :class:`User`, an account id (Cloud) or a user name (Server);
    e-mail addresses are resolved to users before shaping. Text is cleaned by
    ``clean_text``; text that shows nothing is ``None``, like an empty value. Text Jira
    would find too long (see ``TEXT_LIMIT`` and ``SUMMARY_LIMIT``) is cut and ends
    with ``… [truncated by caspira: N characters more in Caspio record <record_id>]``.
    """
    if value is None:
        return None
    shaper = _Shaper(spec, key, record_id, dialect)
    return shaper.shape(value)


class _Shaper:
    def __init__(self, spec: FieldSpec, key: str, record_id: str, dialect: Dialect):
        self.spec = spec
        self.key = key
        self.record_id = record_id
        self.dialect = dialect

    def fail(self, problem: str, fix: str) -> MappingError:
        return MappingError(self.record_id, self.key, problem, fix)

    def shape(self, value: Any) -> Any:
        kind = self.spec.kind
        if kind == "unsupported":
            raise self.fail(
                f"Jira field {self.spec.title} has the type {self.spec.schema!r}, "
                "which caspira cannot fill",
                f"remove {self.key!r} from the flow's fields or map the record to a "
                "text, select, number, date or user field instead",
            )
        return getattr(self, f"_{kind}")(value)

    def _rich_text(self, value: Any) -> Any:
        if self.dialect.is_rich_text(value):
            return self._document(value)
        text = clean_text(str(value)).strip("\n")
        if is_blank(text):
            return None
        return self.dialect.rich_text(self._cut_rich_text(text))

    def _document(self, document: dict[str, Any]) -> Any:
        """A rich-text document given ready-made: its text cleaned, and when too long,
        its text cut and sent as plain text, since a document has no safe cut."""
        cleaned = map_adf_text(document, clean_text)
        text = adf_to_text(cleaned)
        if is_blank(text):
            return None
        if rich_text_length(text) <= TEXT_LIMIT:
            return cleaned
        return self.dialect.rich_text(self._cut_rich_text(text))

    def _text(self, value: Any) -> str | None:
        text = clean_text(str(value))
        if is_blank(text):
            return None
        cut = cut_text(text, SUMMARY_LIMIT, where=self._where, separator=" ")
        self._log_cut(text, cut)
        return cut

    def _cut_rich_text(self, text: str) -> str:
        cut = cut_text(text, TEXT_LIMIT, where=self._where, measure=rich_text_length)
        self._log_cut(text, cut)
        return cut

    @property
    def _where(self) -> str:
        return f"Caspio record {self.record_id}"

    def _log_cut(self, text: str, cut: str) -> None:
        if cut != text:
            log.info(
                "field.truncated",
                extra={
                    "record": self.record_id,
                    "field": self.key,
                    "length": len(text),
                    "sent": len(cut),
                },
            )

    def _option(self, value: Any) -> dict[str, str]:
        return {"value": self._choose(value, "value")}

    def _options(self, value: Any) -> list[dict[str, str]]:
        return [self._option(item) for item in _as_items(value)]

    def _named(self, value: Any) -> dict[str, str]:
        return {"name": self._choose(value, "name")}

    def _named_list(self, value: Any) -> list[dict[str, str]]:
        return [self._named(item) for item in _as_items(value)]

    def _labels(self, value: Any) -> list[str]:
        return clean_labels(_as_items(value))

    def _strings(self, value: Any) -> list[str]:
        items = (clean_text(str(item)) for item in _as_items(value))
        return [item for item in items if not is_blank(item)]

    def _date(self, value: Any) -> str:
        return self._moment(value).date().isoformat()

    def _datetime(self, value: Any) -> str:
        moment = self._moment(value)
        if moment.tzinfo is None:
            raise self.fail(
                f"the date and time {value!s} has no time zone, and Jira field "
                f"{self.spec.title} needs one to know the moment",
                "map it to a date field, or give the time with its offset, such as "
                "2026-01-16T19:52:55+01:00",
            )
        millis = moment.microsecond // 1000
        return moment.strftime(f"%Y-%m-%dT%H:%M:%S.{millis:03d}%z")

    def _number(self, value: Any) -> int | float:
        if isinstance(value, bool):
            raise self.fail(
                f"the value {value!r} is a yes/no, and Jira field {self.spec.title} "
                "takes a number",
                "map it to a number, for example with values: {'True': 1, 'False': 0}",
            )
        if isinstance(value, int | float):
            return value
        if isinstance(value, Decimal):
            return float(value)
        text = str(value).strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            raise self.fail(
                f"the value {text!r} is not a number, and Jira field "
                f"{self.spec.title} takes one",
                "map a numeric record field to it, or translate the value with values",
            ) from None

    def _user(self, value: Any) -> dict[str, str]:
        if isinstance(value, str):
            # An account id on Cloud, a user name on Server: the dialect takes its own.
            value = User(account_id=value, name=value)
        shaped = self.dialect.user_value(value) if isinstance(value, User) else None
        if shaped is None:
            raise self.fail(
                f"the value {value!r} does not name a Jira user for field "
                f"{self.spec.title}",
                "map an e-mail address of a Jira user, an account id (Cloud) or a "
                "user name (Server) to it",
            )
        return shaped

    def _users(self, value: Any) -> list[dict[str, str]]:
        return [self._user(item) for item in _as_items(value)]

    def _moment(self, value: Any) -> datetime:
        if isinstance(value, datetime):
            return value
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day)
        text = str(value).strip()
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            raise self.fail(
                f"the value {text!r} is not a date Jira field {self.spec.title} "
                "can take",
                "give dates as YYYY-MM-DD or as Caspio sends them, YYYY-MM-DDTHH:MM:SS",
            ) from None

    def _choose(self, value: Any, attribute: str) -> str:
        text = str(value).strip()
        if self.spec.allowed_values is None:
            return text
        allowed = [
            str(choice[attribute])
            for choice in self.spec.allowed_values
            if attribute in choice and not choice.get("disabled", False)
        ]
        if text in allowed:
            return text
        folded = [choice for choice in allowed if choice.casefold() == text.casefold()]
        if len(folded) == 1:
            return folded[0]
        listed = ", ".join(repr(choice) for choice in allowed) or "none"
        raise self.fail(
            f"{text!r} is not an allowed value of Jira field {self.spec.title} "
            f"(allowed: {listed})",
            "map the record's value to one of the allowed values with the rule's "
            "values, or add it to the field's options in Jira",
        )


def rich_text_length(text: str) -> int:
    """How long Jira may find ``text`` sent to a rich-text field, in UTF-16 units.

    Server stores the wiki markup caspira sends, escapes included. For Cloud's
    documents Atlassian does not say whether the text or a markup form of it is
    counted, so the longer of the two is taken: a value within it fits either way.
    """
    return max(jira_length(text), jira_length(text_to_wiki(text)))


def _as_items(value: Any) -> list[Any]:
    if isinstance(value, dict):
        # Caspio list fields arrive as {"1": "Hardware", "3": "Access"}.
        return [value[k] for k in sorted(value, key=_list_position)]
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _list_position(key: Any) -> tuple[int, int, str]:
    text = str(key)
    return (0, int(text), "") if text.isdigit() else (1, 0, text)
