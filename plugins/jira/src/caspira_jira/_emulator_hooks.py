"""The emulator's webhooks: registrations, and deliveries made by background tasks with
Jira's headers, signature and retries, in the order the changes happened.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from caspira_jira._webhook import hub_signature

__all__ = ["RETRIED_STATUSES", "Attempt", "Courier", "Delivery", "Webhook"]

log = logging.getLogger(__name__)

#: Answers after which Jira sends a delivery again (with every 5xx).
RETRIED_STATUSES = frozenset({408, 409, 425, 429})
_USER_AGENT = "Atlassian Webhook HTTP Client"


@dataclass
class Webhook:
    """A registration. ``kind`` is ``"dynamic"`` (``/rest/api/3/webhook``) or
    ``"admin"`` (``/rest/webhooks/1.0/webhook``, which alone may carry a secret)."""

    id: int
    kind: Literal["dynamic", "admin"]
    url: str
    events: tuple[str, ...]
    jql: str = ""
    name: str = ""
    secret: str | None = None
    field_ids: tuple[str, ...] = ()
    exclude_body: bool = False
    created: int = 0
    updated_by: str = ""


@dataclass
class Attempt:
    """One try: the receiver's ``status``, or the ``error`` that kept it from one."""

    status: int | None
    error: str | None = None


@dataclass
class Delivery:
    webhook: int
    event: str
    identifier: str
    url: str
    body: bytes
    attempts: list[Attempt] = field(default_factory=list)
    outcome: Literal["pending", "delivered", "failed"] = "pending"


class Courier:
    """Holds the webhooks and delivers events to them.

    Each delivery runs in a task of the running event loop and waits for the one
    before it, so a receiver sees changes in the order they were made. A delivery
    answered with 408, 409, 425, 429 or 5xx, or not answered, is sent again up to
    ``retries`` times, ``retry_delay`` seconds apart and doubling, with the same
    ``X-Atlassian-Webhook-Identifier`` and ``X-Atlassian-Webhook-Retry: <n>``.
    ``transport`` replaces the network (an ``httpx.ASGITransport`` of a receiver).
    """

    def __init__(
        self,
        *,
        retry_delay: float = 0.05,
        retries: int = 3,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.retry_delay = retry_delay
        self.retries = retries
        self.timeout = timeout
        self.transport = transport
        self.webhooks: dict[int, Webhook] = {}
        self.deliveries: list[Delivery] = []
        self._next_id = 1
        self._tasks: set[asyncio.Task[None]] = set()
        self._last: asyncio.Task[None] | None = None

    def register(self, **details: Any) -> Webhook:
        """Keep a new webhook; ``details`` are :class:`Webhook`'s fields but ``id``."""
        webhook = Webhook(id=self._next_id, created=int(time.time() * 1000), **details)
        self._next_id += 1
        self.webhooks[webhook.id] = webhook
        return webhook

    def remove(self, ids: Iterable[int]) -> None:
        for webhook_id in ids:
            self.webhooks.pop(webhook_id, None)

    def publish(
        self,
        event: str,
        body: dict[str, Any],
        *,
        matches: Callable[[str], bool],
        changed: Iterable[str] = (),
    ) -> list[Delivery]:
        """Deliver ``body`` to every webhook that wants ``event`` for this issue.

        ``matches(jql)`` says whether the issue falls under a webhook's JQL filter;
        ``changed`` are the field ids an update changed, for ``fieldIdsFilter``.
        """
        changed = set(changed)
        sent = []
        for webhook in list(self.webhooks.values()):
            if event not in webhook.events or not matches(webhook.jql):
                continue
            filtered = webhook.field_ids and event == "jira:issue_updated"
            if filtered and not changed & set(webhook.field_ids):
                continue
            sent.append(self._send(webhook, event, body))
        return sent

    async def drain(self) -> None:
        """Wait until every delivery made so far has succeeded or given up."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def cancel(self) -> None:
        """Stop every pending delivery and forget the webhooks."""
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()
        self._last = None
        self.webhooks.clear()
        self.deliveries.clear()

    def _send(self, webhook: Webhook, event: str, body: dict[str, Any]) -> Delivery:
        content = b""
        if not webhook.exclude_body:
            signed = {**body, "matchedWebhookIds": [webhook.id]}
            content = json.dumps(signed, separators=(",", ":")).encode()
        delivery = Delivery(webhook.id, event, str(uuid.uuid4()), webhook.url, content)
        self.deliveries.append(delivery)

        previous = self._last
        task = asyncio.get_running_loop().create_task(
            self._deliver(delivery, webhook.secret, previous)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self._last = task
        return delivery

    async def _deliver(
        self,
        delivery: Delivery,
        secret: str | None,
        previous: asyncio.Task[None] | None,
    ) -> None:
        # A delivery made in another event loop (an app reused by another test) is
        # not waited for: it cannot be awaited from here.
        same_loop = (
            previous is not None and previous.get_loop() is asyncio.get_running_loop()
        )
        if previous is not None and same_loop and not previous.done():
            await asyncio.wait([previous])
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": _USER_AGENT,
            "X-Atlassian-Webhook-Identifier": delivery.identifier,
        }
        if secret:
            headers["X-Hub-Signature"] = hub_signature(secret, delivery.body)

        async with httpx.AsyncClient(
            transport=self.transport, timeout=self.timeout
        ) as http:
            for number in range(self.retries + 1):
                if number:
                    await asyncio.sleep(self.retry_delay * 2 ** (number - 1))
                    headers["X-Atlassian-Webhook-Retry"] = str(number)
                attempt = await _post(http, delivery, headers)
                delivery.attempts.append(attempt)
                if attempt.status is not None and not _worth_retrying(attempt.status):
                    delivery.outcome = "delivered" if attempt.status < 400 else "failed"
                    break
            else:
                delivery.outcome = "failed"
        log.debug(
            "emulator.webhook_delivery",
            extra={
                "webhook": delivery.webhook,
                "event": delivery.event,
                "outcome": delivery.outcome,
                "attempts": len(delivery.attempts),
            },
        )


async def _post(
    http: httpx.AsyncClient, delivery: Delivery, headers: dict[str, str]
) -> Attempt:
    try:
        answer = await http.post(delivery.url, content=delivery.body, headers=headers)
    except httpx.TransportError as exc:
        return Attempt(status=None, error=type(exc).__name__)
    return Attempt(status=answer.status_code)


def _worth_retrying(status: int) -> bool:
    return status in RETRIED_STATUSES or status >= 500
