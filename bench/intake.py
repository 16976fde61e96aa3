"""How many Caspio deliveries per second the daemon parses, commits and answers."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import anyio
import httpx

from caspira.config import parse_config
from caspira.daemon import free_port, serve
from caspira.engine import Engine

TARGET_PER_SECOND = 200.0
SHARED = Path(__file__).resolve().parents[2] / "shared"
CASE = (
    Path(os.environ.get("CASPIRA_SHARED_DIR", SHARED))
    / "cases/caspio-webhook-insert.json"
)

CONFIG = {
    "caspio": {
        "account_url": "http://127.0.0.1:9",
        "client_id_env": "ID",
        "client_secret_env": "SECRET",
    },
    "jira": {
        "site": "http://127.0.0.1:9",
        "email": "b@example.com",
        "api_token_env": "T",
    },
    "flows": {
        "bugs": {
            "table": "BugReports",
            "project": "APP",
            "webhook_secret_env": "HOOK",
            "fields": {"summary": {"from": "Title"}},
        }
    },
}
SECRETS = {"ID": "i", "SECRET": "s", "T": "t", "HOOK": "whsec-demo-0001"}


async def measure(count: int, database: str) -> float:
    delivery = json.loads(CASE.read_text())
    port = free_port()
    raw = {**CONFIG, "store": {"url": database}}
    async with Engine(parse_config(raw), secrets=SECRETS) as engine:
        stop = anyio.Event()
        async with anyio.create_task_group() as group:
            await group.start(
                lambda task_status: serve(
                    engine,
                    port=port,
                    with_worker=False,
                    stop=stop,
                    task_status=task_status,
                )
            )
            url = f"http://127.0.0.1:{port}/hooks/caspio/bugs"
            async with httpx.AsyncClient() as client:
                started = time.perf_counter()
                for number in range(count):
                    body = {**delivery, "messageId": str(uuid.uuid4())}
                    body["data"] = [{**delivery["data"][0], "PK_ID": number + 1}]
                    answer = await client.post(url, json=body)
                    assert answer.json()["stored"] == 1, answer.text
                elapsed = time.perf_counter() - started
            stop.set()
    return count / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--database", help="store URL (default: a SQLite file)")
    args = parser.parse_args()
    database = args.database or f"sqlite:///{tempfile.mkdtemp()}/bench.db"

    rate = anyio.run(measure, args.deliveries, database)
    verdict = "ok" if rate >= TARGET_PER_SECOND else "MISSED"
    print(f"intake: {rate:.0f} deliveries/s (target {TARGET_PER_SECOND:.0f}) {verdict}")
    return 0 if rate >= TARGET_PER_SECOND else 1


if __name__ == "__main__":
    sys.exit(main())
