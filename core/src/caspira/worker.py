"""Claim stored events, run the pipeline, commit each outcome or schedule a retry.

Events in one claimed batch have different keys (the store hands out only the
oldest unfinished event of a key), so a batch is processed concurrently.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import uuid
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from caspira.hookcall import call_each
from caspira.store import (
    AuditRecord,
    ClaimedEvent,
    LeaseLost,
    StoreError,
    UnstorableValue,
)
from caspira_hookspecs import CaspiraError, Notification, RetryableError

if TYPE_CHECKING:
    from caspira.engine import Engine

__all__ = ["Worker", "backoff_delay"]

log = logging.getLogger(__name__)

#: A Retry-After larger than this is treated as this: a bad header must not park an
#: event for days.
MAX_RETRY_AFTER = 3600.0


def backoff_delay(
    attempts: int, *, base: float, cap: float, retry_after: float | None = None
) -> float:
    """Seconds to the next attempt: exponential with jitter, at least Retry-After."""
    delay = min(cap, base * 2 ** max(0, attempts - 1)) * random.uniform(0.7, 1.3)
    if retry_after is not None and retry_after > 0:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


class Worker:
    """Processes an engine's inbox until told to stop."""

    def __init__(self, engine: Engine, *, name: str | None = None):
        self.engine = engine
        self.name = (
            name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        )
        self.settings = engine.config.worker
        self._limiter = anyio.CapacityLimiter(self.settings.concurrency)

    async def run(self, stop: anyio.Event) -> None:
        """Work until ``stop`` is set; events in hand are finished, not dropped."""
        log.info("worker.started", extra={"worker": self.name})
        while not stop.is_set():
            handled = await self.run_once()
            if handled == 0:
                with anyio.move_on_after(self.settings.poll_interval):
                    await stop.wait()
        log.info("worker.stopped", extra={"worker": self.name})

    async def run_once(self) -> int:
        """Claim one batch and process it; answer how many events were handled."""
        try:
            claimed = await anyio.to_thread.run_sync(
                lambda: self.engine.store.claim(
                    self.name,
                    limit=self.settings.batch_size,
                    lease_seconds=self.settings.lease_seconds,
                )
            )
        except StoreError as exc:
            # A busy or unreachable database must not end the worker: it asks again
            # after the poll interval.
            log.warning(
                "worker.claim_failed", extra={"worker": self.name, "error": str(exc)}
            )
            return 0
        if not claimed:
            return 0
        async with anyio.create_task_group() as group:
            for event in claimed:
                group.start_soon(self._handle, event)
        return len(claimed)

    async def drain(self, *, timeout: float = 60.0) -> None:
        """Process until nothing is claimable now (tests and the demo use this)."""
        with anyio.fail_after(timeout):
            while await self.run_once():
                pass

    async def _handle(self, event: ClaimedEvent) -> None:
        async with self._limiter:
            await self._process(event)

    async def _process(self, event: ClaimedEvent) -> None:
        store = self.engine.store
        try:
            outcome = await self.engine.pipeline.process(event)
        except RetryableError as exc:
            await self._fail(event, exc, retry_after=exc.retry_after)
            return
        except StoreError as exc:
            # The store failed under the pipeline (a deadlock, a lost connection):
            # the record is not at fault, so the event is tried again.
            await self._fail(event, exc)
            return
        except CaspiraError as exc:
            await self._fail(event, exc, retryable=False)
            return
        except Exception as exc:
            # A bug or an unforeseen failure: retried, so a fix can drain the backlog.
            log.exception(
                "event.crashed", extra={"event": event.id, "worker": self.name}
            )
            await self._fail(event, exc)
            return

        try:
            await anyio.to_thread.run_sync(
                lambda: store.complete(
                    event.id,
                    self.name,
                    links=outcome.links,
                    audit=outcome.audit,
                    field_sync=outcome.field_sync,
                    comment_links=outcome.comment_links,
                )
            )
        except LeaseLost:
            log.warning(
                "event.lease_lost", extra={"event": event.id, "worker": self.name}
            )
            return
        except UnstorableValue as exc:
            await self._fail(event, exc, retryable=False)
            return
        except StoreError as exc:
            # Nothing was committed; the retry finds what this attempt made remotely
            # (the create intent is already stored) instead of making it again.
            await self._fail(event, exc)
            return
        log.debug("event.done", extra={"event": event.id})
        await self._notify(outcome.notifications)

    async def _fail(
        self,
        event: ClaimedEvent,
        exc: Exception,
        *,
        retryable: bool = True,
        retry_after: float | None = None,
    ) -> None:
        message = f"{type(exc).__name__}: {exc}"
        retry_in = None
        if retryable:
            retry_in = backoff_delay(
                event.attempts,
                base=self.settings.backoff_base,
                cap=self.settings.backoff_max,
                retry_after=retry_after,
            )
        payload = event.payload if isinstance(event.payload, dict) else {}
        record_id = payload.get("record_id")
        audit = [
            AuditRecord(
                action="event_failed",
                target="caspira",
                flow=event.flow,
                record_id=str(record_id) if record_id is not None else None,
                issue_key=None,
                detail={"error": message, "attempt": event.attempts},
            )
        ]
        try:
            state = await anyio.to_thread.run_sync(
                lambda: self.engine.store.fail(
                    event.id, self.name, error=message, retry_in=retry_in, audit=audit
                )
            )
        except LeaseLost:
            log.warning(
                "event.lease_lost", extra={"event": event.id, "worker": self.name}
            )
            return
        except StoreError as exc:
            # The event stays in progress until its lease runs out, then comes back.
            log.warning(
                "event.fail_unrecorded",
                extra={"event": event.id, "worker": self.name, "error": str(exc)},
            )
            return
        if state == "dead":
            log.error(
                "event.dead",
                extra={"event": event.id, "flow": event.flow, "error": message},
            )
            await self._notify(
                [
                    Notification(
                        flow=event.flow or "",
                        kind="event_failed",
                        title=f"caspira could not sync record {record_id}",
                        text=message,
                        record_id=str(record_id) if record_id is not None else None,
                    )
                ]
            )
        else:
            log.info(
                "event.retry_scheduled",
                extra={"event": event.id, "in_seconds": round(retry_in or 0, 2)},
            )

    async def _notify(self, notifications: list[Notification]) -> None:
        for notification in notifications:
            try:
                await call_each(
                    self.engine.plugins.pm.hook.notify, notification=notification
                )
            except Exception as exc:
                log.warning(
                    "notify.failed",
                    extra={"kind": notification.kind, "error": f"{type(exc).__name__}"},
                )
