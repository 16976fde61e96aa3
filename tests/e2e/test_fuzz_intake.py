"""Fuzzing the webhook endpoints: whatever arrives, the answer is never a 5xx, and
nothing refused is stored."""

from __future__ import annotations

import json
import uuid

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caspira.config import parse_config
from caspira.daemon import build_app
from caspira.engine import Engine

SECRETS = {
    "CASPIO_ID": "id",
    "CASPIO_SECRET": "caspio-secret",
    "JIRA_TOKEN": "jira-token",
    "HOOK_SECRET": "whsec-demo-0001",
    "JIRA_HOOK_SECRET": "jira-hook-secret",
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)

record = st.fixed_dictionaries(
    {"PK_ID": st.one_of(st.integers(), st.text(max_size=5), st.none())},
    optional={"Title": json_values, "Severity": json_values, "Product": json_values},
)

caspio_bodies = st.fixed_dictionaries(
    {
        "secret": st.sampled_from(["whsec-demo-0001", "wrong", ""]),
        "eventType": st.sampled_from(
            ["table.recordInsert", "table.recordUpdate", "table.recordDelete", "x"]
        ),
        "objectName": st.sampled_from(["BugReports", "Other"]),
        "messageId": st.uuids().map(str) | st.text(max_size=8),
        "eventDate": st.sampled_from(["2026-11-30T09:14:05", "yesterday", ""]),
        "data": st.lists(record, max_size=3) | json_values,
    },
    optional={"eventId": json_values, "accountId": json_values},
)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fuzz")
    config = parse_config(
        {
            "store": {"url": f"sqlite:///{folder / 'fuzz.db'}"},
            "caspio": {
                "account_url": "http://127.0.0.1:9",
                "client_id_env": "CASPIO_ID",
                "client_secret_env": "CASPIO_SECRET",
            },
            "jira": {
                "site": "http://127.0.0.1:9",
                "email": "bot@example.com",
                "api_token_env": "JIRA_TOKEN",
                "webhook_secret_env": "JIRA_HOOK_SECRET",
            },
            "flows": {
                "bugs": {
                    "table": "BugReports",
                    "project": "APP",
                    "webhook_secret_env": "HOOK_SECRET",
                    "fields": {"summary": {"from": "Title"}},
                }
            },
        }
    )
    engine = Engine(config, secrets=SECRETS)
    anyio.run(engine.start)
    routes = anyio.run(engine.webhook_routes)
    yield Poster(build_app(engine, routes)), engine
    anyio.run(engine.aclose)


class Poster:
    """Posts to the daemon's ASGI app through httpx's transport, one loop a call."""

    def __init__(self, app):
        self.app = app

    def post(self, path: str, content: bytes | str) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                return await c.post(path, content=content)

        return anyio.run(send)


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(body=caspio_bodies)
def test_caspio_deliveries_of_any_shape_never_get_a_5xx(client, body):
    test, engine = client
    before = sum(engine.store.counts().values())
    answer = test.post("/hooks/caspio/bugs", content=json.dumps(body))
    after = sum(engine.store.counts().values())

    assert answer.status_code < 500, answer.text
    if answer.status_code != 200:
        assert after == before
        assert answer.json()["error"]


@FUZZ
@given(raw=st.binary(max_size=300))
def test_arbitrary_bytes_never_get_a_5xx_on_either_route(client, raw):
    test, engine = client
    before = sum(engine.store.counts().values())
    for path in ("/hooks/caspio/bugs", "/hooks/jira", f"/hooks/caspio/{uuid.uuid4()}"):
        answer = test.post(path, content=raw)
        assert answer.status_code in (400, 401, 404, 413), (path, answer.text)
    assert sum(engine.store.counts().values()) == before
