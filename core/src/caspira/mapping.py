"""The engine's own ``map_fields``: apply a flow's ``fields`` rules to a record.

It runs last, so a plugin that answers ``map_fields`` for a flow takes precedence.
"""

from __future__ import annotations

import string
import unicodedata
from typing import Any

from caspira_hookspecs import (
    FieldRule,
    Flow,
    IssueDraft,
    MappingError,
    RecordChange,
    Route,
)
from caspira_hookspecs import hookimpl as _hookimpl

__all__ = ["build_draft", "map_fields", "record_value"]

#: Draft keys that are not passed through ``IssueDraft.fields``.
_SPECIAL = ("summary", "description", "labels", "assignee")

_formatter = string.Formatter()


@_hookimpl(trylast=True)
def map_fields(change: RecordChange, flow: Flow, route: Route) -> IssueDraft:
    return build_draft(change, flow, route)


def build_draft(change: RecordChange, flow: Flow, route: Route) -> IssueDraft:
    """Map a record to a draft; raise MappingError naming the record and field."""
    mapped: dict[str, Any] = {}
    for target, rule in flow.fields.items():
        # An emptied field stays in the draft as None, so an update clears it.
        mapped[target] = _apply(rule, target, change, flow)

    summary = mapped.pop("summary", None)
    if summary is None or not _visible(str(summary)):
        source = flow.fields["summary"].source if "summary" in flow.fields else None
        raise MappingError(
            change.record_id,
            source or "summary",
            "the issue summary would be empty",
            f"fill {source!r} in the record, or give flows.{flow.name}.fields.summary "
            "a default"
            if source
            else f"add flows.{flow.name}.fields.summary",
        )
    description = mapped.pop("description", None) or ""
    labels = [*flow.labels, *_as_list(mapped.pop("labels", None) or [])]
    assignee = mapped.pop("assignee", None)

    return IssueDraft(
        flow=flow.name,
        record_id=change.record_id,
        project=route.project,
        issue_type=route.issue_type,
        summary=str(summary),
        description=str(description),
        fields=mapped,
        labels=tuple(str(label) for label in labels),
        assignee_email=str(assignee) if assignee else None,
    )


def record_value(value: Any) -> Any:
    """A record value as mapping sees it: Caspio list fields become lists of labels."""
    if isinstance(value, dict):
        return [value[k] for k in sorted(value, key=_list_order)]
    return value


def _list_order(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (1 << 30, key)


def _apply(rule: FieldRule, target: str, change: RecordChange, flow: Flow) -> Any:
    where = f"flows.{flow.name}.fields.{target}"
    if rule.template is not None:
        value = _render(rule.template, change, flow, where)
        field_name = target
    else:
        field_name = rule.source or target
        if field_name not in change.values:
            raise MappingError(
                change.record_id,
                field_name,
                f"the record has no field {field_name!r} (table {change.table})",
                f"correct {where}.from to a field of {change.table}",
            )
        value = record_value(change.values[field_name])

    if _is_empty(value):
        if rule.default is not None:
            return rule.default
        if rule.required:
            raise MappingError(
                change.record_id,
                field_name,
                f"the field is empty but {where} is required",
                f"fill {field_name!r} in the record, or give {where} a default",
            )
        return None

    if rule.values is not None:
        value = _translate(rule, value, change.record_id, field_name, where)
    return value


def _translate(
    rule: FieldRule, value: Any, record_id: str, field_name: str, where: str
) -> Any:
    assert rule.values is not None
    if isinstance(value, list):
        return [_translate(rule, item, record_id, field_name, where) for item in value]
    text = str(value)
    if text in rule.values:
        return rule.values[text]
    if rule.default is not None:
        return rule.default
    known = ", ".join(repr(k) for k in rule.values) or "none"
    raise MappingError(
        record_id,
        field_name,
        f"the value {text!r} has no mapping (mapped values: {known})",
        f"add {text!r} to {where}.values, or give {where} a default",
    )


def _render(template: str, change: RecordChange, flow: Flow, where: str) -> str:
    values = {}
    for _, name, _, _ in _formatter.parse(template):
        if name is None:
            continue
        if name not in change.values:
            raise MappingError(
                change.record_id,
                name,
                f"the template in {where} names a field the record does not have",
                f"correct the template to use fields of {change.table}",
            )
        value = record_value(change.values[name])
        if value is None:
            value = ""
        elif isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        values[name] = value
    return template.format_map(values).strip()


def _visible(text: str) -> bool:
    """Whether text shows anything: not only spaces, controls or format characters."""
    return any(
        not ch.isspace() and unicodedata.category(ch) not in ("Cc", "Cf", "Zs")
        for ch in text
    )


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    return [value]
