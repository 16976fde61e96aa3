"""Choosing the transition that takes an issue to a status, and reading the fields its
screen offers, so a missing required field is named before Jira refuses it.
"""

from __future__ import annotations

from typing import Any

from caspira_hookspecs import MappingError
from caspira_jira._fields import FieldSpec
from caspira_jira._screens import CreateScreen

__all__ = ["example_value", "missing_fields", "pick_transition", "transition_screen"]


def pick_transition(
    transitions: list[dict[str, Any]],
    status: str,
    *,
    issue_key: str,
    current: str,
    flow: str,
) -> dict[str, Any]:
    """The transition whose target status is ``status`` (ignoring case)."""
    wanted = status.casefold()
    for transition in transitions:
        target = str((transition.get("to") or {}).get("name", ""))
        if target.casefold() == wanted and transition.get("isAvailable", True):
            return transition
    offered = sorted(
        {str((t.get("to") or {}).get("name")) for t in transitions if t.get("to")}
    )
    raise MappingError(
        issue_key,
        "status",
        f"no transition from {current} leads to {status} "
        f"(available: {', '.join(offered) or 'none'})",
        f"change flows.{flow}.status_map so that it names a status reachable from "
        f"{current}, or add a transition to {status} to the project's Jira workflow",
    )


def transition_screen(issue_key: str, transition: dict[str, Any]) -> CreateScreen:
    """The fields of a transition's screen, resolved by id or name like a create
    screen's (``GET .../transitions?expand=transitions.fields``)."""
    fields = transition.get("fields") or {}
    specs = {
        str(field_id): FieldSpec(
            id=str(field_id),
            name=str(meta.get("name", field_id)),
            schema=dict(meta.get("schema") or {}),
            allowed_values=tuple(meta["allowedValues"])
            if isinstance(meta.get("allowedValues"), list)
            else None,
            # A field Jira fills by default is never missing.
            required=bool(meta.get("required")) and not meta.get("hasDefaultValue"),
        )
        for field_id, meta in fields.items()
        if isinstance(meta, dict)
    }
    return CreateScreen(
        project=issue_key,
        issue_type=str(transition.get("name", "")),
        issue_type_id=str(transition.get("id", "")),
        fields=specs,
    )


def missing_fields(screen: CreateScreen, given: dict[str, Any]) -> list[FieldSpec]:
    """The required fields of ``screen`` that ``given`` (keyed by id) leaves out."""
    return [
        spec
        for spec in screen.fields.values()
        if spec.required and given.get(spec.id) in (None, "", [])
    ]


def example_value(spec: FieldSpec) -> str:
    """A value the configuration could give ``spec``, for error messages."""
    for choice in spec.allowed_values or ():
        for attribute in ("name", "value"):
            if isinstance(choice, dict) and choice.get(attribute):
                return str(choice[attribute])
    return "..."
