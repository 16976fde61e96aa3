"""Turn a Caspio outgoing-webhook delivery into inbound events, one per row.

Only validation and parsing happen here: no remote call, nothing stored.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal

from caspira_caspio._values import parse_datetime
from caspira_caspio._webhook_body import (
    MAX_RECORD_NUMBER,
    check_row,
    check_text,
    read_delivery,
    record_number,
    shown,
)
from caspira_hookspecs import (
    CommentSync,
    Flow,
    InboundEvent,
    IssueComment,
    RecordChange,
    User,
    WebhookRejected,
)

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
    *,
    zone: tzinfo = UTC,
) -> list[InboundEvent]:
    """The events a delivery to ``/hooks/caspio/{flow_name}`` carries.

    A delivery about the flow's table gives one ``record_changed`` event per
    record. One about its comments table (``flow.comments.table``) gives one
    ``comment_changed`` event per inserted row, keyed by the commented record so
    it is applied in order with that record's changes; updates and deletes of
    comment rows are not synced and give no events. ``secret(env_name)`` reads
    the flow's webhook secret; ``zone`` is the account's time zone, which
    ``eventDate`` is written in.

    Record ids are ``PK_ID`` as canonical digits, so ``"0123"`` and ``123.0`` are
    record ``123``. A record's n-th repeat within one delivery (Caspio's batching
    can carry two updates of a record) gets the delivery id suffix ``:<n>``, so
    every row is kept, in order; a repeated comment row is kept once.

    Raises :class:`~caspira_hookspecs.WebhookRejected`, and nothing else, with 404
    (unknown flow), 401 (wrong secret), 503 (the flow's secret is not configured
    here, so Caspio retries) or 400: not a Caspio delivery for the flow's tables,
    or text no store can hold (NUL characters, unpaired surrogates).
    """
    flow = flows.get(flow_name)
    if flow is None:
        raise WebhookRejected(
            404,
            f"no flow named {shown(flow_name)}; point the webhook at a configured flow",
        )

    delivery = read_delivery(body)
    if flow.webhook_secret_env:
        _check_secret(flow, delivery.get("secret"), secret)

    operation = _operation(delivery.get("eventType"))
    message_id = _text(delivery, "messageId")
    check_text(message_id, "messageId")
    table = _text(delivery, "objectName")
    comments = flow.comments if flow.comments and flow.comments.table else None
    if table != flow.table and (comments is None or table != comments.table):
        raise WebhookRejected(400, _foreign_table(flow, table))
    occurred_at = _event_date(delivery.get("eventDate"), zone)
    rows = delivery.get("data")
    if not isinstance(rows, list) or not rows:
        raise WebhookRejected(400, "data must be a non-empty list of records")

    if table == flow.table:
        events = _record_events(flow, operation, rows, occurred_at, message_id)
    else:
        assert comments is not None
        events = _comment_events(
            flow, comments, operation, rows, occurred_at, message_id
        )
    log.info(
        "caspio.webhook.accepted",
        extra={
            "flow": flow.name,
            "table": table,
            "operation": operation,
            "events": len(events),
        },
    )
    return events


def _record_events(
    flow: Flow,
    operation: Literal["insert", "update", "delete"],
    records: list[Any],
    occurred_at: datetime | None,
    message_id: str,
) -> list[InboundEvent]:
    events = []
    repeats: dict[str, int] = {}
    for position, record in enumerate(records):
        record_id = _record_id(record, position)
        check_row(record, f"record {record_id}")
        # Batching can put two updates of a record in one call: keep both, in order.
        repeat = repeats.get(record_id, 0)
        repeats[record_id] = repeat + 1
        suffix = f":{repeat}" if repeat else ""
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
                delivery_id=f"caspio:{message_id}:{record_id}{suffix}",
                payload=change.model_dump(mode="json"),
            )
        )
    return events


def _comment_events(
    flow: Flow,
    comments: CommentSync,
    operation: Literal["insert", "update", "delete"],
    rows: list[Any],
    occurred_at: datetime | None,
    message_id: str,
) -> list[InboundEvent]:
    if operation != "insert":
        # Edits and deletions of comment rows are not synced to Jira.
        log.debug(
            "caspio.webhook.comment_ignored",
            extra={"flow": flow.name, "operation": operation},
        )
        return []

    events = []
    seen: set[str] = set()
    for position, row in enumerate(rows):
        comment_id = _record_id(row, position)
        check_row(row, f"comment row {comment_id}")
        record_id = _parent_id(row, comment_id, comments)
        author = _author(row, comments)
        body = _comment_body(row, comment_id, comments)
        # A row is inserted once; the same row again in one delivery is a repeat.
        if comment_id in seen:
            log.debug(
                "caspio.webhook.comment_repeated",
                extra={"flow": flow.name, "comment": comment_id},
            )
            continue
        seen.add(comment_id)
        comment = IssueComment(
            source="caspio",
            event="created",
            record_id=record_id,
            comment_id=comment_id,
            body=body,
            author=User(display_name=author) if author else None,
            occurred_at=occurred_at,
        )
        events.append(
            InboundEvent(
                source="caspio",
                kind="comment_changed",
                flow=flow.name,
                key=f"{flow.name}:{record_id}",
                delivery_id=f"caspio:{message_id}:{comment_id}",
                payload=comment.model_dump(mode="json"),
            )
        )
    return events


def _foreign_table(flow: Flow, table: str) -> str:
    expected = repr(flow.table)
    if flow.comments and flow.comments.table:
        expected += f" or its comments table {flow.comments.table!r}"
    return (
        f"objectName {shown(table)} is not this flow's table; flow {flow.name!r} "
        f"expects {expected}. Subscribe the webhook's events to those tables only"
    )


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
    # Compared as bytes: "surrogatepass" encodes every str, even a lone surrogate.
    if not isinstance(given, str) or not hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"),
        expected.encode("utf-8", "surrogatepass"),
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
            f"eventType {shown(event_type)} is not one of "
            f"{', '.join(EVENT_OPERATIONS)}",
        )
    return operation


def _text(delivery: dict[str, Any], key: str) -> str:
    value = delivery.get(key)
    if not isinstance(value, str) or not value:
        raise WebhookRejected(400, f"{key} must be a non-empty string")
    return value


def _event_date(value: Any, zone: tzinfo) -> datetime | None:
    if value is None:
        return None
    try:
        occurred_at = parse_datetime(value, zone)
        # The engine compares times in UTC; a date at the calendar's edge has none.
        if occurred_at is not None:
            occurred_at.astimezone(UTC)
    except (TypeError, ValueError, OverflowError):
        raise WebhookRejected(
            400, f"eventDate {shown(value)} is not a date like 2026-01-16T19:52:55"
        ) from None
    return occurred_at


def _record_id(record: Any, position: int) -> str:
    if not isinstance(record, dict):
        raise WebhookRejected(
            400, f"data[{position}] is {shown(record)}, not a record object"
        )
    pk_id = record.get("PK_ID")
    record_id = record_number(pk_id)
    if record_id is None:
        raise WebhookRejected(
            400,
            f"data[{position}] has PK_ID {shown(pk_id)}; PK_ID must be Caspio's "
            f"AUTONUMBER, a whole number from 1 to {MAX_RECORD_NUMBER}",
        )
    return record_id


def _parent_id(row: dict[str, Any], comment_id: str, comments: CommentSync) -> str:
    value = row.get(comments.record_field)
    # A NUMBER field answers 123.0, a STRING field "123": both name record 123.
    record_id = record_number(value)
    if record_id is None:
        raise WebhookRejected(
            400,
            f"comment row {comment_id} has no record id in field "
            f"{comments.record_field!r} (found {shown(value)}); fill it with the "
            "commented record's PK_ID",
        )
    return record_id


def _comment_body(row: dict[str, Any], comment_id: str, comments: CommentSync) -> str:
    value = row.get(comments.body_field)
    if not isinstance(value, str) or not value.strip():
        raise WebhookRejected(
            400,
            f"comment row {comment_id} has no text in field "
            f"{comments.body_field!r}; a comment needs a body",
        )
    return value


def _author(row: dict[str, Any], comments: CommentSync) -> str | None:
    if not comments.author_field:
        return None
    value = row.get(comments.author_field)
    return str(value) if value not in (None, "") else None
