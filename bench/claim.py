"""How long a claim of 16 events takes with 20,000 pending, on a table never analysed.

The backlog arrives as one batch of 20,000 records. On PostgreSQL the script works
in a schema of its own, dropped afterwards, with autovacuum off for its table so
the planner has no statistics, as right after a burst.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from caspira.store import Store
from caspira_hookspecs import InboundEvent

TARGET_MS = 50.0
BATCH = 16


@contextmanager
def own_schema(database: str) -> Iterator[str]:
    """``database`` itself for SQLite; for PostgreSQL a URL into a fresh schema."""
    url = make_url(database)
    if url.get_backend_name() != "postgresql":
        yield database
        return
    schema = f"caspira_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    options = f"{url.query.get('options', '')} -csearch_path={schema}".strip()
    try:
        yield url.update_query_dict({"options": options}).render_as_string(
            hide_password=False
        )
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def measure(database: str, events: int, keys: int, claims: int) -> list[float]:
    """Seconds taken by each of ``claims`` claims, after one to warm up."""
    with Store(database, tenant="bench") as store:
        store.migrate()
        if make_url(database).get_backend_name() == "postgresql":
            engine = create_engine(database)
            with engine.begin() as connection:
                connection.execute(
                    text("ALTER TABLE caspira_events SET (autovacuum_enabled = false)")
                )
            engine.dispose()
        backlog = [
            InboundEvent(
                source="caspio",
                kind="record_changed",
                flow="bugs",
                key=f"bugs:{number % keys}",
                delivery_id=f"delivery-{number}",
                payload={"record_id": str(number % keys), "operation": "update"},
            )
            for number in range(events)
        ]
        started = time.perf_counter()
        stored = store.store_events(backlog)
        print(
            f"intake: {len(stored)} events in one batch took "
            f"{time.perf_counter() - started:.2f} s"
        )

        timings: list[float] = []
        for round_number in range(claims + 1):
            worker = f"bench-{round_number}"
            started = time.perf_counter()
            claimed = store.claim(worker, limit=BATCH, lease_seconds=300)
            elapsed = time.perf_counter() - started
            if round_number:
                timings.append(elapsed)
            for event in claimed:
                store.complete(event.id, worker)
        return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument(
        "--keys", type=int, help="distinct record keys (default: one per event)"
    )
    parser.add_argument("--claims", type=int, default=30)
    parser.add_argument("--database", help="store URL (default: a SQLite file)")
    args = parser.parse_args()
    database = args.database or f"sqlite:///{tempfile.mkdtemp()}/bench.db"

    with own_schema(database) as url:
        timings = measure(url, args.events, args.keys or args.events, args.claims)
    slowest = max(timings) * 1000
    median = statistics.median(timings) * 1000
    verdict = "ok" if slowest < TARGET_MS else "MISSED"
    print(
        f"claim: {BATCH} of {args.events} pending in {median:.1f} ms (median), "
        f"{slowest:.1f} ms at worst (target < {TARGET_MS:.0f}) {verdict}"
    )
    return 0 if slowest < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
