"""How many records per second become Jira issues with their key written back."""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time

import anyio

from caspira.demo import Stack, _demo_records

TARGET_PER_SECOND = 15.0


async def measure(count: int, database: str) -> float:
    records = _demo_records(count)
    async with Stack(database) as stack:
        started = time.perf_counter()
        await stack.submit(records)
        rows = await stack.settle(keyed=count, timeout=600)
        elapsed = time.perf_counter() - started
        issues = await stack.issues()
    keyed = sum(1 for row in rows.values() if row.get("JiraKey"))
    assert keyed == count == len(issues), (keyed, count, len(issues))
    return count / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=300)
    parser.add_argument("--database", help="store URL (default: a SQLite file)")
    args = parser.parse_args()
    database = args.database or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    logging.basicConfig(level=logging.WARNING)

    rate = anyio.run(measure, args.records, database)
    verdict = "ok" if rate >= TARGET_PER_SECOND else "MISSED"
    print(f"flow: {rate:.1f} records/s (target {TARGET_PER_SECOND:.0f}) {verdict}")
    return 0 if rate >= TARGET_PER_SECOND else 1


if __name__ == "__main__":
    sys.exit(main())
