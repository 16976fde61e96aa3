"""The webhook receiver: what it stores, and what it refuses without a 5xx."""

from __future__ import annotations

import json

import httpx
import pytest

from caspira.config import parse_config
from caspira.daemon import build_app
from caspira.engine import Engine
from caspira_hookspecs import InboundEvent, WebhookRejected, WebhookRoute, hookimpl

pytestmark = pytest.mark.anyio


class FormHook:
    """A plugin whose route turns ``{"id": ..., "text": ...}`` into one event."""

    name = "forms"

    @hookimpl
    def webhook_routes(self):
        return [WebhookRoute(path="/hooks/forms", name="forms", handler=self.receive)]

    async def receive(self, request):
        body = json.loads(request.body)
        if body.get("crash"):
            raise RuntimeError("a bug in the handler")
        if "id" not in body:
            raise WebhookRejected(400, "id is missing")
        return [
            InboundEvent(
                source="forms",
                kind="form_sent",
                flow=None,
                key=f"forms:{body['id']}",
                delivery_id=f"forms:{body['id']}",
                payload={"text": body.get("text", "")},
            )
        ]


@pytest.fixture
async def receiver(sqlite_url):
    config = parse_config(
        {"store": {"url": sqlite_url}, "daemon": {"max_body_bytes": 64}}
    )
    engine = Engine(config, secrets={}, plugins=[FormHook()], use_entry_points=False)
    async with engine:
        app = build_app(engine, await engine.webhook_routes())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t"
        ) as client:
            yield engine, client


async def test_a_delivery_is_stored_before_it_is_answered(receiver):
    engine, client = receiver
    answer = await client.post("/hooks/forms", json={"id": 1, "text": "hi"})
    assert answer.json() == {"received": 1, "stored": 1}
    (event,) = engine.store.events()
    assert (event.key, event.payload) == ("forms:1", {"text": "hi"})


async def test_a_refusal_carries_the_handlers_status_and_reason(receiver):
    _, client = receiver
    answer = await client.post("/hooks/forms", json={"text": "no id"})
    assert (answer.status_code, answer.json()) == (400, {"error": "id is missing"})


async def test_a_handler_crash_is_a_400_not_a_500(receiver):
    engine, client = receiver
    answer = await client.post("/hooks/forms", json={"id": 2, "crash": True})
    assert (answer.status_code, answer.json()) == (
        400,
        {"error": "the delivery could not be read"},
    )
    assert engine.store.events() == []


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a\x00b", "event forms:3.text holds a NUL character, which cannot be stored"),
        ("\ud800", "event forms:3.text holds an unpaired surrogate"),
    ],
)
async def test_text_that_cannot_be_stored_is_refused_with_where_it_is(
    receiver, text, reason
):
    engine, client = receiver
    body = json.dumps({"id": 3, "text": text})  # escapes both as JSON allows
    answer = await client.post(
        "/hooks/forms", content=body, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["error"].startswith(reason)
    assert engine.store.events() == []


async def test_a_body_over_the_limit_gets_413(receiver):
    _, client = receiver
    answer = await client.post("/hooks/forms", content=b"{" + b" " * 100 + b"}")
    assert answer.status_code == 413
    assert "daemon.max_body_bytes" in answer.json()["error"]


async def test_health_counts_events_by_state(receiver):
    _, client = receiver
    await client.post("/hooks/forms", json={"id": 4})
    health = (await client.get("/healthz")).json()
    assert health["status"] == "ok"
    assert health["events"]["pending"] == 1
