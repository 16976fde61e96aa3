"""What the Caspio emulator remembers: tokens, tables and records, outgoing webhooks.

Deliveries run as asyncio tasks on the loop that served the request (uvicorn's, or
the test's when called through ``httpx.ASGITransport``); :meth:`drain` waits for them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import secrets
import string
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from caspira_caspio._emulator_faults import FAULT_OPTION_PREFIX, Faults, Injection
from caspira_caspio._emulator_tables import (
    ApiError,
    Field,
    Table,
    body_error,
    field_from_definition,
    is_name,
)

__all__ = [
    "DeliveryAttempt",
    "EmulatorState",
    "InjectedFault",
    "Subscription",
    "Webhook",
]

log = logging.getLogger(__name__)

EVENT_TYPES = ("table.recordInsert", "table.recordUpdate", "table.recordDelete")
EVENT_SOURCES = ("Datasheet", "DataPages", "RESTAPIs", "TriggeredActions", "Tasks")
#: The highest CallThrottling the emulated account plan allows.
MAX_CALL_THROTTLING = 100
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass
class Subscription:
    """An outgoing webhook event: which table and event type it listens to."""

    id: str
    event_type: str
    table: str
    object_fields: list[str] | None
    event_sources: list[str]
    payload_fields: list[str] | None
    enabled: bool
    created: str
    modified: str | None = None
    messages: int = 0
    calls: int = 0
    errors: int = 0


@dataclass
class Webhook:
    """An outgoing webhook: where deliveries go and the secret they carry."""

    id: str
    name: str
    description: str | None
    urls: list[str]
    call_throttling: int
    secret: str
    enabled: bool
    created: str
    modified: str | None = None
    events: dict[str, Subscription] = field(default_factory=dict)
    messages: int = 0
    calls: int = 0
    errors: int = 0


@dataclass(frozen=True)
class DeliveryAttempt:
    """One POST of a delivery to one URL; ``status`` is ``None`` on network errors."""

    url: str
    webhook_id: str
    message_id: str
    attempt: int
    status: int | None
    error: str | None
    body: dict[str, Any]


@dataclass(frozen=True)
class InjectedFault:
    """A failure the emulator injected into one request.

    ``kind`` is ``"429"``, ``"500"``, ``"502"``, ``"503"``, ``"drop"``,
    ``"lost_write"`` or ``"token_expiry"``.
    """

    method: str
    target: str
    kind: str


@dataclass
class _Fault:
    status: int
    code: str
    message: str
    retry_after: str | None
    times: int


class EmulatorState:
    """The emulated account. Tests reach it as ``app.state.emulator``.

    Test seams (not part of Caspio): :meth:`advance_clock` ages tokens,
    :meth:`fail_next` makes the next calls fail, :meth:`set_faults` makes calls fail
    at random (``injected`` lists what was injected), ``delivery_transport``
    replaces the network for deliveries, ``calls`` lists every API request as
    ``(method, target)`` and ``deliveries`` every delivery attempt.

    ``expired_token_status`` is how the account answers an expired token: 401, or
    400 ``IncorrectQueryParameter`` as some Caspio accounts do.
    """

    def __init__(
        self,
        *,
        client_id: str = "caspira-demo",
        client_secret: str = "caspira-demo-secret",
        token_ttl: int = 86399,
        account_id: str = "c0demo01",
        webhook_secret: str = "whsec-demo-0001",
        delivery_attempts: int = 3,
        delivery_backoff: float = 0.2,
        timezone: str = "UTC",
        expired_token_status: int = 401,
        faults: Faults | None = None,
    ) -> None:
        if token_ttl < 1:
            raise ValueError(
                f"emulator option token_ttl={token_ttl} would issue tokens that are "
                "dead on arrival; give 1 second or more"
            )
        if expired_token_status not in (400, 401):
            raise ValueError(
                f"emulator option expired_token_status={expired_token_status} is "
                "not how Caspio refuses an expired token; give 401 or 400"
            )
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_ttl = token_ttl
        self.account_id = account_id
        self.webhook_secret = webhook_secret
        self.delivery_attempts = delivery_attempts
        self.delivery_backoff = delivery_backoff
        self.expired_token_status = expired_token_status
        try:
            self.zone = ZoneInfo(timezone)
        except (ValueError, OSError, ZoneInfoNotFoundError):
            raise ValueError(
                f"emulator option timezone={timezone!r} is not a known time zone; "
                "use an IANA name such as UTC or Europe/Berlin"
            ) from None
        self.delivery_transport: httpx.AsyncBaseTransport | None = None

        self.tables: dict[str, Table] = {}
        self.webhooks: dict[str, Webhook] = {}
        self.tokens: dict[str, float] = {}
        self._served_tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.token_grants = 0
        self.calls: list[tuple[str, str]] = []
        self.deliveries: list[DeliveryAttempt] = []
        self._clock_offset = 0.0
        self._faults: list[_Fault] = []
        self.faults = faults or Faults()
        self.injected: list[InjectedFault] = []
        self._random = random.Random(self.faults.seed)
        self._pending: set[asyncio.Task[None]] = set()

    @classmethod
    def from_options(cls, options: Mapping[str, str]) -> EmulatorState:
        """Build from ``--set key=value`` strings; unknown keys are refused.

        Keys starting with ``fault_`` are :class:`Faults` settings, named as its
        fields (``fault_rate_429=0.1``, ``fault_latency=0.1-0.5``).
        """
        known = {
            "client_id": str,
            "client_secret": str,
            "token_ttl": int,
            "account_id": str,
            "webhook_secret": str,
            "delivery_attempts": int,
            "delivery_backoff": float,
            "timezone": str,
            "expired_token_status": int,
        }
        arguments: dict[str, Any] = {}
        fault_options = {
            key.removeprefix(FAULT_OPTION_PREFIX): text
            for key, text in options.items()
            if key.startswith(FAULT_OPTION_PREFIX)
        }
        if fault_options:
            arguments["faults"] = Faults.from_options(fault_options)
        for key, text in options.items():
            if key.startswith(FAULT_OPTION_PREFIX):
                continue
            if key not in known:
                raise ValueError(
                    f"unknown Caspio emulator option {key!r}; use one of "
                    f"{', '.join(sorted(known))} or a {FAULT_OPTION_PREFIX}... option"
                )
            try:
                arguments[key] = known[key](text)
            except ValueError:
                raise ValueError(
                    f"emulator option {key}={text!r} is not a {known[key].__name__}"
                ) from None
        return cls(**arguments)

    # --- time and test seams --------------------------------------------------

    def now(self) -> float:
        return time.time() + self._clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock forward, so tokens expire without waiting."""
        self._clock_offset += seconds

    def fail_next(
        self,
        status: int,
        code: str = "InternalError",
        message: str = "Internal error",
        *,
        retry_after: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` API calls with this error instead."""
        self._faults.append(_Fault(status, code, message, retry_after, times))

    def set_faults(self, **settings: Any) -> Faults:
        """Fail calls at random from now on, as :class:`Faults` ``(**settings)`` says.

        Without settings, no more random faults. A ``seed`` restarts the draws.
        """
        self.faults = Faults(**settings)
        self._random = random.Random(self.faults.seed)
        return self.faults

    def draw_faults(self, method: str, path: str) -> Injection:
        """The random faults for one request (``NO_FAULT`` when it gets none)."""
        return self.faults.draw(self._random, method, path)

    def record_fault(self, method: str, target: str, kind: str) -> None:
        self.injected.append(InjectedFault(method, target, kind))
        log.info(
            "emulator.fault.injected",
            extra={"method": method, "target": target[:200], "kind": kind},
        )

    def take_fault(self) -> ApiError | None:
        if not self._faults:
            return None
        fault = self._faults[0]
        fault.times -= 1
        if fault.times <= 0:
            self._faults.pop(0)
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
        return ApiError(fault.status, fault.code, fault.message, headers=headers)

    def timestamp(self) -> str:
        """Now, for webhook metadata: ISO 8601 in UTC."""
        moment = datetime.fromtimestamp(self.now(), UTC).replace(microsecond=0)
        return moment.isoformat().replace("+00:00", "Z")

    def local_date(self) -> str:
        """Now, as Caspio writes event dates: in the account's zone, without it."""
        moment = datetime.fromtimestamp(self.now(), self.zone).replace(tzinfo=None)
        return moment.replace(microsecond=0).isoformat()

    # --- tokens ---------------------------------------------------------------

    def grant(self, client_id: str | None, client_secret: str | None) -> dict[str, Any]:
        """A new token for the right client id and secret, or a 401."""
        good_id = secrets.compare_digest(client_id or "", self.client_id)
        good_secret = secrets.compare_digest(client_secret or "", self.client_secret)
        if not (good_id and good_secret):
            raise ApiError(401, "InvalidClient", "Client credentials are not valid")
        return self._issue()

    def refresh(self, refresh_token: str | None) -> dict[str, Any]:
        if refresh_token not in self.refresh_tokens:
            raise ApiError(401, "InvalidGrant", "Refresh token is not valid")
        self.refresh_tokens.discard(refresh_token)
        return self._issue()

    def check_token(self, authorization: str | None) -> None:
        """Refuse a missing, unknown or expired bearer token, as the account does."""
        token = _bearer(authorization)
        if token is None:
            raise ApiError(401, "Unauthorized", "A bearer token is required")
        expires = self.tokens.get(token)
        if expires is None:
            raise ApiError(
                401, "Unauthorized", "The access token is invalid or expired"
            )
        if expires <= self.now():
            if self.expired_token_status == 400:
                raise ApiError(
                    400, "IncorrectQueryParameter", "The access token has expired"
                )
            raise ApiError(
                401, "Unauthorized", "The access token is invalid or expired"
            )
        self._served_tokens.add(token)

    def end_token_early(self, authorization: str | None) -> bool:
        """End the request's token now, if it is alive and has served a call before.

        A token never used is spared, so a client's renewal cannot be refused.
        """
        token = _bearer(authorization)
        if token not in self._served_tokens or self.tokens[token] <= self.now():
            return False
        self.tokens[token] = self.now()
        return True

    def _issue(self) -> dict[str, Any]:
        token = secrets.token_urlsafe(32)
        refresh_token = secrets.token_urlsafe(32)
        self.tokens[token] = self.now() + self.token_ttl
        self.refresh_tokens.add(refresh_token)
        self.token_grants += 1
        return {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": self.token_ttl,
            "refresh_token": refresh_token,
        }

    # --- tables and records ---------------------------------------------------

    def table(self, name: str) -> Table:
        table = self.tables.get(name)
        if table is None:
            raise ApiError(404, "ObjectNotFound", f"Table {name!r} was not found")
        return table

    def create_table(self, name: str, definitions: list[Mapping[str, Any]]) -> Table:
        """A new table; ``PK_ID`` is added first, as Caspio does for every table."""
        if not name or not is_name(name):
            raise body_error(f"table name {name!r} must be letters, digits or _")
        if name in self.tables:
            raise body_error(f"table {name!r} already exists")
        fields = {"PK_ID": Field("PK_ID", "AUTONUMBER", unique=True)}
        for order, definition in enumerate(definitions, start=1):
            spec = field_from_definition(definition, order)
            if spec.name in fields:
                raise body_error(f"field {spec.name!r} is defined twice")
            fields[spec.name] = spec
        table = Table(name, fields, zone=self.zone)
        self.tables[name] = table
        return table

    def insert(self, table: Table, values: Mapping[str, Any]) -> dict[str, Any]:
        """Store a new record and announce it; answer it as stored."""
        if not isinstance(values, Mapping) or not values:
            raise body_error("the body must be an object of field values")
        stored = {name: None for name in table.fields}
        for name, value in values.items():
            stored[name] = table.stored_value(name, value)
        table.check_unique(stored, None)
        stored.update(table.generated_values())
        table.records[stored["PK_ID"]] = stored
        self._announce(table, "table.recordInsert", [stored], set(table.fields))
        return stored

    def update(
        self, table: Table, where: str, values: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """Change the matching records; announce those whose values changed."""
        if not isinstance(values, Mapping) or not values:
            raise body_error("the body must be an object of field values")
        changes = {
            name: table.stored_value(name, value) for name, value in values.items()
        }
        rows = table.matching(where)
        for row in rows:
            table.check_unique({**row, **changes}, row["PK_ID"])

        changed_rows, changed_fields = [], set()
        for row in rows:
            differing = {name for name, value in changes.items() if row[name] != value}
            row.update(changes)
            if differing:
                changed_rows.append(row)
                changed_fields |= differing
        if changed_rows:
            self._announce(table, "table.recordUpdate", changed_rows, changed_fields)
        return rows

    def delete(self, table: Table, where: str) -> int:
        rows = table.matching(where)
        for row in rows:
            del table.records[row["PK_ID"]]
        if rows:
            self._announce(table, "table.recordDelete", rows, set(table.fields))
        return len(rows)

    # --- outgoing webhooks ----------------------------------------------------

    def webhook(self, webhook_id: str) -> Webhook:
        hook = self.webhooks.get(webhook_id)
        if hook is None:
            raise ApiError(
                404, "ObjectNotFound", f"Webhook {webhook_id!r} was not found"
            )
        return hook

    def create_webhook(self, body: Mapping[str, Any]) -> Webhook:
        _only_keys(body, {"Name", "Description", "OutgoingUrls", "CallThrottling"})
        name = body.get("Name")
        if not isinstance(name, str) or not name.strip():
            raise body_error("Name is required")
        if body.get("OutgoingUrls") is None:
            raise body_error("OutgoingUrls is required")
        hook = Webhook(
            id=self._new_id(self.webhooks),
            name="",
            description=None,
            urls=[],
            call_throttling=MAX_CALL_THROTTLING,
            secret=self.webhook_secret,
            enabled=True,
            created=self.timestamp(),
        )
        self._apply_webhook(hook, body)
        self.webhooks[hook.id] = hook
        return hook

    def change_webhook(self, hook: Webhook, body: Mapping[str, Any]) -> Webhook:
        allowed = {"Name", "Description", "OutgoingUrls", "CallThrottling", "Enabled"}
        _only_keys(body, allowed)
        if not any(body.get(key) is not None for key in allowed):
            raise body_error(f"give at least one of {', '.join(sorted(allowed))}")
        self._apply_webhook(hook, body)
        if body.get("Enabled") is not None:
            hook.enabled = _boolean(body, "Enabled")
            for event in hook.events.values():
                event.enabled = hook.enabled
        hook.modified = self.timestamp()
        return hook

    def add_event(self, hook: Webhook, body: Mapping[str, Any]) -> Subscription:
        _only_keys(
            body,
            {
                "EventType",
                "ObjectName",
                "ObjectFields",
                "EventSources",
                "CustomPayloadFields",
                "CustomPayloadTemplate",
                "Enabled",
            },
        )
        event_type = body.get("EventType")
        if event_type not in EVENT_TYPES:
            raise body_error(f"EventType must be one of {', '.join(EVENT_TYPES)}")
        table_name = body.get("ObjectName")
        if not isinstance(table_name, str) or table_name not in self.tables:
            raise body_error(f"ObjectName {table_name!r} is not a table")
        table = self.tables[table_name]
        if any(
            event.event_type == event_type and event.table == table_name
            for event in hook.events.values()
        ):
            raise body_error(f"the webhook already has {event_type} on {table_name}")
        object_fields = _field_list(body, "ObjectFields", table)
        if object_fields is not None and event_type != "table.recordUpdate":
            raise body_error("ObjectFields applies only to table.recordUpdate")
        sources = _string_list(body, "EventSources") or list(EVENT_SOURCES)
        unknown = set(sources) - set(EVENT_SOURCES)
        if unknown:
            raise body_error(f"EventSources must be among {', '.join(EVENT_SOURCES)}")
        if body.get("CustomPayloadTemplate") is not None:
            raise body_error("CustomPayloadTemplate is not supported by the emulator")
        enabled = True if body.get("Enabled") is None else _boolean(body, "Enabled")

        event = Subscription(
            id=self._new_id(hook.events),
            event_type=event_type,
            table=table_name,
            object_fields=object_fields,
            event_sources=sources,
            payload_fields=_field_list(body, "CustomPayloadFields", table),
            enabled=enabled,
            created=self.timestamp(),
        )
        hook.events[event.id] = event
        return event

    def _apply_webhook(self, hook: Webhook, body: Mapping[str, Any]) -> None:
        if body.get("Name") is not None:
            name = body["Name"]
            if not isinstance(name, str) or not name.strip():
                raise body_error("Name must be a non-empty string")
            if any(o.name == name for o in self.webhooks.values() if o is not hook):
                raise body_error(f"an outgoing webhook named {name!r} already exists")
            hook.name = name
        if "Description" in body:
            hook.description = body["Description"]
        if body.get("OutgoingUrls") is not None:
            urls = _string_list(body, "OutgoingUrls")
            if not urls:
                raise body_error("OutgoingUrls needs at least one address")
            for url in urls:
                _check_outgoing_url(url)
                if any(url in o.urls for o in self.webhooks.values() if o is not hook):
                    raise body_error(f"{url} is used by another outgoing webhook")
            hook.urls = urls
        if body.get("CallThrottling") is not None:
            throttling = body["CallThrottling"]
            if (
                isinstance(throttling, bool)
                or not isinstance(throttling, int)
                or not 0 < throttling <= MAX_CALL_THROTTLING
            ):
                raise body_error(
                    f"CallThrottling must be from 1 to {MAX_CALL_THROTTLING}"
                )
            hook.call_throttling = throttling

    @staticmethod
    def _new_id(taken: Mapping[str, Any]) -> str:
        alphabet = string.ascii_lowercase + string.digits
        while True:
            candidate = "".join(secrets.choice(alphabet) for _ in range(6))
            if candidate not in taken:
                return candidate

    # --- deliveries -----------------------------------------------------------

    def _announce(
        self,
        table: Table,
        event_type: str,
        rows: list[dict[str, Any]],
        changed: set[str],
    ) -> None:
        for hook in self.webhooks.values():
            if not hook.enabled:
                continue
            for event in hook.events.values():
                if not _listens(event, table.name, event_type, changed):
                    continue
                select = None
                if event.payload_fields is not None:
                    select = ["PK_ID", *event.payload_fields]
                body = {
                    "eventId": event.id,
                    "messageId": str(uuid.uuid4()),
                    "webhookId": hook.id,
                    "accountId": self.account_id,
                    "secret": hook.secret,
                    "eventDate": self.local_date(),
                    "eventType": event_type,
                    "objectName": table.name,
                    "data": [table.render(row, select) for row in rows],
                }
                hook.messages += 1
                event.messages += 1
                for url in hook.urls:
                    self._spawn(self._deliver(hook, event, url, body))

    def _spawn(self, delivery: Any) -> None:
        task = asyncio.get_running_loop().create_task(delivery)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _deliver(
        self, hook: Webhook, event: Subscription, url: str, body: dict[str, Any]
    ) -> None:
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        for attempt in range(1, self.delivery_attempts + 1):
            status, error = None, None
            # trust_env=False: a proxy from the environment must not see deliveries.
            async with httpx.AsyncClient(
                transport=self.delivery_transport, timeout=10.0, trust_env=False
            ) as client:
                try:
                    response = await client.post(
                        url,
                        content=content,
                        headers={"Content-Type": "application/json"},
                    )
                    status = response.status_code
                except httpx.HTTPError as exc:
                    error = type(exc).__name__
            hook.calls += 1
            event.calls += 1
            self.deliveries.append(
                DeliveryAttempt(
                    url, hook.id, body["messageId"], attempt, status, error, body
                )
            )
            if status is not None and 200 <= status < 300:
                return
            hook.errors += 1
            event.errors += 1
            log.info(
                "emulator.delivery.failed",
                extra={"url": url, "attempt": attempt, "status": status},
            )
            if attempt < self.delivery_attempts:
                await asyncio.sleep(self.delivery_backoff * 2 ** (attempt - 1))

    async def drain(self) -> None:
        """Wait until every delivery scheduled so far has been attempted to the end."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    # --- inspection -----------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        """Everything the emulator holds, for ``GET /_emulator/state``."""
        return {
            "accountId": self.account_id,
            "tokenGrants": self.token_grants,
            "faults": {
                "settings": asdict(self.faults),
                "injected": [asdict(fault) for fault in self.injected],
            },
            "tables": {
                name: {
                    "fields": [spec.describe() for spec in table.fields.values()],
                    "records": [table.render(row) for row in table.records.values()],
                }
                for name, table in self.tables.items()
            },
            "webhooks": [
                {
                    "Id": hook.id,
                    "Name": hook.name,
                    "OutgoingUrls": hook.urls,
                    "Enabled": hook.enabled,
                    "Events": [
                        {"Id": e.id, "Type": e.event_type, "ObjectName": e.table}
                        for e in hook.events.values()
                    ],
                }
                for hook in self.webhooks.values()
            ],
            "deliveries": [
                {
                    "url": attempt.url,
                    "messageId": attempt.message_id,
                    "attempt": attempt.attempt,
                    "status": attempt.status,
                    "error": attempt.error,
                }
                for attempt in self.deliveries
            ],
        }


def _bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _listens(
    event: Subscription, table: str, event_type: str, changed: set[str]
) -> bool:
    if not event.enabled or event.table != table or event.event_type != event_type:
        return False
    if "RESTAPIs" not in event.event_sources:
        return False
    return event.object_fields is None or bool(changed & set(event.object_fields))


def _check_outgoing_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    # The emulator, unlike Caspio, accepts plain http to this machine for tests.
    if parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS:
        return
    raise body_error(
        f"{url} is not a valid HTTPS address (the emulator also accepts "
        "http://127.0.0.1 and http://localhost)"
    )


def _only_keys(body: Any, allowed: set[str]) -> None:
    if not isinstance(body, Mapping):
        raise body_error("the body must be a JSON object")
    extra = set(body) - allowed
    if extra:
        raise body_error(f"unknown properties: {', '.join(sorted(extra))}")


def _string_list(body: Mapping[str, Any], key: str) -> list[str] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise body_error(f"{key} must be a list of strings")
    return value


def _field_list(body: Mapping[str, Any], key: str, table: Table) -> list[str] | None:
    names = _string_list(body, key)
    if names is None:
        return None
    unknown = [name for name in names if name not in table.fields]
    if unknown:
        raise body_error(f"{key}: {', '.join(unknown)} not in table {table.name!r}")
    return names


def _boolean(body: Mapping[str, Any], key: str) -> bool:
    value = body.get(key)
    if not isinstance(value, bool):
        raise body_error(f"{key} must be true or false")
    return value
