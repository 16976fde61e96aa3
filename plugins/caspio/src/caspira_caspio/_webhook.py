"""Turn a Caspio outgoing-webhook delivery into inbound events, one per record.

Only validation and parsing happen here: no remote call, nothing stored.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from caspira_hookspecs import Flow, InboundEvent, RecordChange, WebhookRejected

__all__ = ["EVENT_OPERATIONS", "parse_delivery"]

log = logging.getLogger(__name__)

#: Caspio's event types and the record operation each one means.
EVENT_OPERATIONS: dict[str, Literal["insert", "update", "delete"]] = {
    "table.recordInsert": "insert",
    "table.recordUpdate": "update",
    "table.recordDelete": "delete",
}


def parse_delivery(
    flow_name: str,
    body: bytes,
    flows: Mapping[str, Flow],
    secret: Callable[[str], str],
) -> list[InboundEvent]:
    """The events a delivery to ``/hooks/caspio/{flow_name}`` carries.

    ``secret(env_name)`` reads the flow's webhook secret. Raises
    :class:`~caspira_hookspecs.WebhookRejected` with 404 (unknown flow), 400 (not a
    Caspio delivery for the flow's table) or 401 (wrong secret).
    """
    flow = flows.get(flow_name)
    if flow is None:
        raise WebhookRejected(
            404, f"no flow named {flow_name!r}; point the webhook at a configured flow"
        )

    try:
        delivery = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise WebhookRejected(400, "body is not JSON") from None
    if not isinstance(delivery, dict):
        raise WebhookRejected(400, "body is not a JSON object")

    if flow.webhook_secret_env:
        _check_secret(flow, delivery.get("secret"), secret)

    operation = _operation(delivery.get("eventType"))
    message_id = _text(delivery, "messageId")
    table = _text(delivery, "objectName")
    if table != flow.table:
        raise WebhookRejected(
            400,
            f"objectName {table!r} is not this flow's table; flow {flow.name!r} "
            f"expects {flow.table!r}",
        )
    occurred_at = _event_date(delivery.get("eventDate"))
    records = delivery.get("data")
    if not isinstance(records, list) or not records:
        raise WebhookRejected(400, "data must be a non-empty list of records")

    events = []
    for record in records:
        record_id = _record_id(record)
        change = RecordChange(
            flow=flow.name,
            table=flow.table,
            record_id=record_id,
            operation=operation,
            values=record,
            occurred_at=occurred_at,
            delivery_id=message_id,
        )
        events.append(
            InboundEvent(
                source="caspio",
                kind="record_changed",
                flow=flow.name,
                key=f"{flow.name}:{record_id}",
                delivery_id=f"caspio:{message_id}:{record_id}",
                payload=change.model_dump(mode="json"),
            )
        )
    log.info(
        "caspio.webhook.accepted",
        extra={"flow": flow.name, "operation": operation, "records": len(events)},
    )
    return events


def _check_secret(flow: Flow, given: Any, secret: Callable[[str], str]) -> None:
    env_name = flow.webhook_secret_env
    assert env_name is not None
    try:
        expected = secret(env_name)
    except KeyError:
        log.error("caspio.webhook.secret_unset", extra={"flow": flow.name})
        # 503 makes Caspio retry, so deliveries survive until the secret is set.
        raise WebhookRejected(
            503,
            f"flow {flow.name!r} cannot check deliveries yet: its webhook secret is "
            "not configured on this server",
        ) from None
    if not isinstance(given, str) or not hmac.compare_digest(
        given.encode(), expected.encode()
    ):
        raise WebhookRejected(
            401,
            f"secret does not match flow {flow.name!r}; copy the outgoing webhook's "
            "secret from Caspio into the flow's webhook_secret_env",
        )


def _operation(event_type: Any) -> Literal["insert", "update", "delete"]:
    operation = (
        EVENT_OPERATIONS.get(event_type) if isinstance(event_type, str) else None
    )
    if operation is None:
        raise WebhookRejected(
            400,
            f"eventType {event_type!r} is not one of {', '.join(EVENT_OPERATIONS)}",
        )
    return operation


def _text(delivery: dict[str, Any], key: str) -> str:
    value = delivery.get(key)
    if not isinstance(value, str) or not value:
        raise WebhookRejected(400, f"{key} must be a non-empty string")
    return value


def _event_date(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise WebhookRejected(
            400, f"eventDate {value!r} is not a date like 2026-01-16T19:52:55"
        ) from None


def _record_id(record: Any) -> str:
    if not isinstance(record, dict):
        raise WebhookRejected(400, "each item of data must be a record object")
    pk_id = record.get("PK_ID")
    if isinstance(pk_id, bool) or not isinstance(pk_id, int | str) or pk_id == "":
        raise WebhookRejected(400, f"record without a usable PK_ID: {pk_id!r}")
    return str(pk_id)
