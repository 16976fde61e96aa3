"""Jira webhook deliveries in: the signature checked, the body parsed into the events
the engine stores (``issue_changed`` and ``comment_changed``); nothing remote is called.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from caspira_hookspecs import (
    FieldChange,
    InboundEvent,
    IssueChange,
    IssueComment,
    IssueRef,
    User,
    WebhookRejected,
    WebhookRequest,
)
from caspira_jira._adf import adf_to_text
from caspira_jira._wiki import wiki_to_text

__all__ = ["SIGNATURE_HEADER", "hub_signature", "parse_delivery"]

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "x-hub-signature"
_IDENTIFIER_HEADER = "x-atlassian-webhook-identifier"
_RETRY_HEADER = "x-atlassian-webhook-retry"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ISSUE_EVENTS: dict[str, Literal["created", "updated", "deleted"]] = {
    "jira:issue_created": "created",
    "jira:issue_updated": "updated",
    "jira:issue_deleted": "deleted",
}
_COMMENT_EVENTS: dict[str, Literal["created", "updated", "deleted"]] = {
    "comment_created": "created",
    "comment_updated": "updated",
    "comment_deleted": "deleted",
}


def hub_signature(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature`` Jira sends with ``body`` for a webhook's ``secret``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def parse_delivery(
    request: WebhookRequest, *, site: str, secret: str | None, secret_env: str | None
) -> list[InboundEvent]:
    """The events one Jira delivery carries, or :class:`WebhookRejected`.

    With a ``secret``, the ``X-Hub-Signature`` must be the HMAC-SHA256 of the raw
    body (401 otherwise). A body that is not a JSON object, or an issue or comment
    event without its issue, is refused with 400; an event caspira does not use is
    answered with no events, so that Jira does not retry it.

    Every event's ``delivery_id`` is ``jira:`` + ``X-Atlassian-Webhook-Identifier``,
    which Jira keeps the same on every retry of a delivery; when that header is
    missing it is ``jira:sha256:`` + the hash of the raw body, which a retry of the
    same body repeats too.
    """
    if secret is not None:
        _check_signature(request, secret, secret_env or "webhook_secret_env")
    delivery = _json_object(request.body)
    event = delivery.get("webhookEvent")
    if not isinstance(event, str) or not event:
        raise WebhookRejected(
            400, "webhookEvent is missing; this is not a Jira webhook delivery"
        )
    if event not in _ISSUE_EVENTS and event not in _COMMENT_EVENTS:
        log.debug("jira.webhook_ignored", extra={"webhook_event": event})
        return []

    identifier = request.headers.get(_IDENTIFIER_HEADER)
    if identifier:
        delivery_id = f"jira:{identifier}"
    else:
        delivery_id = f"jira:sha256:{hashlib.sha256(request.body).hexdigest()}"
    issue, project = _issue(delivery.get("issue"), site)
    occurred_at = _moment(delivery.get("timestamp"))
    if event in _ISSUE_EVENTS:
        kind = "issue_changed"
        payload = IssueChange(
            issue=issue,
            event=_ISSUE_EVENTS[event],
            project=project,
            changes=_changes(delivery.get("changelog")),
            actor=_user(delivery.get("user")),
            occurred_at=occurred_at,
            delivery_id=delivery_id,
        ).model_dump(mode="json")
    else:
        kind = "comment_changed"
        payload = _comment(
            delivery, _COMMENT_EVENTS[event], issue, occurred_at
        ).model_dump(mode="json")
    log.debug(
        "jira.webhook_parsed",
        extra={
            "webhook_event": event,
            "issue": issue.key,
            "retry": request.headers.get(_RETRY_HEADER),
        },
    )
    return [
        InboundEvent(
            source="jira",
            kind=kind,
            flow=None,
            key=f"issue:{issue.key}",
            delivery_id=delivery_id,
            payload=payload,
        )
    ]


def _check_signature(request: WebhookRequest, secret: str, secret_env: str) -> None:
    given = request.headers.get(SIGNATURE_HEADER)
    if not given:
        raise WebhookRejected(
            401,
            "X-Hub-Signature header is missing; register the Jira webhook with the "
            f"secret in {secret_env}, or remove webhook_secret_env from [jira]",
        )
    expected = hub_signature(secret, request.body)
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        raise WebhookRejected(
            401,
            "X-Hub-Signature does not match the body; the Jira webhook's secret must "
            f"equal the value of {secret_env}",
        )


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        delivery = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise WebhookRejected(400, "body is not JSON") from None
    if not isinstance(delivery, dict):
        raise WebhookRejected(400, "body is not a JSON object")
    return delivery


def _issue(value: Any, site: str) -> tuple[IssueRef, str | None]:
    if not isinstance(value, dict):
        raise WebhookRejected(400, "issue is missing; it must be an object")
    key, issue_id = value.get("key"), value.get("id")
    if not isinstance(key, str) or not key or issue_id in (None, ""):
        raise WebhookRejected(400, "issue must have a key and an id")
    fields = value.get("fields") if isinstance(value.get("fields"), dict) else {}
    project = fields.get("project") if isinstance(fields.get("project"), dict) else {}
    # An issue key is the project key, a hyphen and a number.
    project_key = project.get("key") or key.rpartition("-")[0] or None
    ref = IssueRef(key=key, id=str(issue_id), url=f"{site}/browse/{key}")
    return ref, project_key


def _moment(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise WebhookRejected(400, f"timestamp {value!r} is not epoch milliseconds")
    try:
        # timedelta keeps whole milliseconds exact, where a float division may not.
        return _EPOCH + timedelta(milliseconds=value)
    except OverflowError:
        raise WebhookRejected(
            400, f"timestamp {value!r} is not epoch milliseconds"
        ) from None


def _user(value: Any) -> User | None:
    if not isinstance(value, dict):
        return None
    user = User(
        account_id=_text(value.get("accountId")),
        name=_text(value.get("name")),
        email=_text(value.get("emailAddress")),
        display_name=_text(value.get("displayName")),
    )
    return user if user.account_id or user.name else None


def _changes(changelog: Any) -> tuple[FieldChange, ...]:
    if not isinstance(changelog, dict):
        return ()
    items = changelog.get("items")
    if not isinstance(items, list):
        raise WebhookRejected(400, "changelog.items must be a list")
    changes = []
    for item in items:
        if not isinstance(item, dict):
            raise WebhookRejected(400, "each changelog item must be an object")
        # Jira Server's items have no fieldId, only the field's name.
        field_id = _text(item.get("fieldId")) or _text(item.get("field"))
        if field_id is None:
            raise WebhookRejected(400, "a changelog item names no field")
        changes.append(
            FieldChange(
                field_id=field_id,
                field=_text(item.get("field")),
                from_id=_text(item.get("from")),
                from_text=_text(item.get("fromString")),
                to_id=_text(item.get("to")),
                to_text=_text(item.get("toString")),
            )
        )
    return tuple(changes)


def _comment(
    delivery: dict[str, Any],
    event: Literal["created", "updated", "deleted"],
    issue: IssueRef,
    occurred_at: datetime | None,
) -> IssueComment:
    comment = delivery.get("comment")
    if not isinstance(comment, dict) or _text(comment.get("id")) is None:
        raise WebhookRejected(400, "comment is missing; it must be an object with id")
    body = comment.get("body")
    # Cloud sends Atlassian Document Format; Server sends wiki markup.
    text = wiki_to_text(body) if isinstance(body, str) else adf_to_text(body)
    # The author of an edit or a removal is whoever made it, not who wrote it first.
    candidates = {
        "created": [comment.get("author")],
        "updated": [comment.get("updateAuthor"), comment.get("author")],
        "deleted": [
            delivery.get("user"),
            comment.get("updateAuthor"),
            comment.get("author"),
        ],
    }[event]
    author = next((user for user in map(_user, candidates) if user is not None), None)
    return IssueComment(
        source="jira",
        event=event,
        issue=issue,
        comment_id=str(comment["id"]),
        body=text,
        author=author,
        occurred_at=occurred_at,
    )


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)
