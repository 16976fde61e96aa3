"""Caspio deliveries through the daemon into the store.

Refused deliveries answer 4xx and leave the inbox empty (refusals happen before the
store, so SQLite shows it); accepted ones are stored on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest

from caspira.config import parse_config
from caspira.daemon import build_app
from caspira.engine import Engine
from caspira_caspio import CaspioPlugin
from caspira_jira import JiraPlugin
from caspira_jira.emulator import create_app as jira_emulator
from tests.caspio.conftest import ACCOUNT_URL, CLIENT_ID, CLIENT_SECRET
from tests.caspio.test_webhook import SECRET_ENV, SECRETS, case

pytestmark = pytest.mark.anyio

URL = "/hooks/caspio/bugs"


@asynccontextmanager
async def running_daemon(url: str) -> AsyncIterator[tuple[Engine, httpx.AsyncClient]]:
    config = parse_config(
        {
            "store": {"url": url},
            "caspio": {
                "account_url": ACCOUNT_URL,
                "client_id_env": "CASPIO_CLIENT_ID",
                "client_secret_env": "CASPIO_CLIENT_SECRET",
            },
            # A flow needs a plugin that can create issues, though intake uses none.
            "jira": {
                "site": "https://example.atlassian.net",
                "email": "caspira-bot@example.com",
                "api_token_env": "JIRA_API_TOKEN",
            },
            "flows": {
                "bugs": {
                    "table": "BugReports",
                    "project": "APP",
                    "webhook_secret_env": SECRET_ENV,
                    "fields": {"summary": {"from": "Title"}},
                }
            },
        }
    )
    secrets = {
        **SECRETS,
        "CASPIO_CLIENT_ID": CLIENT_ID,
        "CASPIO_CLIENT_SECRET": CLIENT_SECRET,
        "JIRA_API_TOKEN": "caspira-demo-token",
    }
    engine = Engine(
        config,
        secrets=secrets,
        transports={"jira": httpx.ASGITransport(jira_emulator())},
        plugins=[CaspioPlugin, JiraPlugin],
        use_entry_points=False,
    )
    async with engine:
        app = build_app(engine, await engine.webhook_routes())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://d") as http:
            yield engine, http


@pytest.fixture
async def daemon(sqlite_url):
    async with running_daemon(sqlite_url) as running:
        yield running


@pytest.fixture
async def daemon_on_each_database(database_url):
    async with running_daemon(database_url) as running:
        yield running


async def stored(engine: Engine) -> list[Any]:
    rows = await anyio.to_thread.run_sync(lambda: engine.store.events())
    return sorted(rows, key=lambda row: row.id)


def with_record(**values: Any) -> dict[str, Any]:
    delivery = case("insert")
    delivery["data"] = [{**delivery["data"][0], **values}]
    return delivery


def raw(delivery: dict[str, Any]) -> bytes:
    # ensure_ascii keeps a lone surrogate as its \\ud800 escape, as a sender would.
    return json.dumps(delivery).encode()


def refused(name: str, body: bytes, status: int, reason: str) -> Any:
    return pytest.param(body, status, reason, id=name)


REFUSED = [
    refused(
        "number of 5,000 digits",
        b'{"x": ' + b"9" * 5000 + b"}",
        400,
        "a number of 5000 digits",
    ),
    refused("200,000 nested arrays", b"[" * 200_000, 400, "nested too deeply"),
    refused(
        "lone surrogate as secret",
        raw({**case("insert"), "secret": "\ud800"}),
        401,
        "secret does not match flow 'bugs'",
    ),
    refused(
        "NUL in a value",
        raw(with_record(Title="Crash\u0000")),
        400,
        "record 123, field 'Title': holds a NUL character",
    ),
    refused(
        "lone surrogate in a value",
        raw(with_record(Title="Crash \udc9f")),
        400,
        "record 123, field 'Title': holds an unpaired surrogate (\\udc9f)",
    ),
    refused(
        "NUL in a field name",
        raw(with_record(**{"Title\u0000": "x"})),
        400,
        "record 123: field name 'Title\\x00' holds a NUL character",
    ),
    refused(
        "lone surrogate in a field name",
        raw(with_record(**{"Ti\ud83dtle": "x"})),
        400,
        "record 123: field name 'Ti\\ud83dtle' holds an unpaired surrogate",
    ),
    refused(
        "NUL in PK_ID",
        raw(with_record(PK_ID="12\u00003")),
        400,
        "data[0] has PK_ID '12\\x003'",
    ),
    refused(
        "NUL in messageId",
        raw({**case("insert"), "messageId": "3f1c\u0000"}),
        400,
        "messageId holds a NUL character",
    ),
    refused(
        "PK_ID of 10**100",
        raw(with_record(PK_ID=10**100)),
        400,
        "data[0] has PK_ID 1000",
    ),
    refused(
        "NaN as a value",
        raw(with_record(Score=float("nan"))),
        400,
        "body holds NaN",
    ),
]


@pytest.mark.parametrize(("body", "status", "reason"), REFUSED)
async def test_hostile_delivery_is_refused_naming_why_and_nothing_is_stored(
    daemon, body, status, reason
):
    engine, http = daemon

    answer = await http.post(URL, content=body)

    assert answer.status_code == status
    assert reason in answer.json()["error"]
    assert await stored(engine) == []


async def test_two_updates_of_one_record_in_one_delivery_are_stored_in_order(
    daemon_on_each_database,
):
    engine, http = daemon_on_each_database
    delivery = case("update")
    first = {**delivery["data"][0], "Severity": "High"}
    later = {**first, "PK_ID": "0123", "Severity": "Critical"}
    delivery["data"] = [first, later]

    answer = await http.post(URL, json=delivery)
    rows = await stored(engine)

    assert answer.json() == {"received": 2, "stored": 2}
    assert [(row.key, row.delivery_id) for row in rows] == [
        ("bugs:123", f"caspio:{delivery['messageId']}:123"),
        ("bugs:123", f"caspio:{delivery['messageId']}:123:1"),
    ]
    assert [row.payload["values"]["Severity"] for row in rows] == [
        "High",
        "Critical",
    ]


async def test_unusual_but_valid_text_and_numbers_are_stored_as_sent(
    daemon_on_each_database,
):
    engine, http = daemon_on_each_database
    values = {
        "Title": "Zoë 🐞 line\u2028separator \\u0000 as written text",
        "Score": 10**30,
        "Ratio": 1.5e-300,
    }

    answer = await http.post(URL, json=with_record(**values))
    [row] = await stored(engine)

    assert answer.status_code == 200
    assert {name: row.payload["values"][name] for name in values} == values
