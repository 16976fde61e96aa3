"""Inbound events shaped like what the Caspio webhook route stores."""

from __future__ import annotations

from typing import Any

from caspira_hookspecs import InboundEvent


def record_event(
    key: str,
    delivery_id: str,
    *,
    flow: str | None = "bugs",
    payload: dict[str, Any] | None = None,
) -> InboundEvent:
    """A ``record_changed`` event for record ``key`` of the ``bugs`` flow."""
    return InboundEvent(
        source="caspio",
        kind="record_changed",
        flow=flow,
        key=key,
        delivery_id=delivery_id,
        payload=payload
        if payload is not None
        else {"record_id": key, "operation": "update", "delivery": delivery_id},
    )
