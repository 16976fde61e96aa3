"""Which databases the store opens, and how it sets them up."""

from __future__ import annotations

import socket
import sqlite3

import psycopg
import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from caspira.store import Store, StoreError, StoreRefused, StoreUnavailable
from caspira.store._failures import store_failure
from tests.store.sample import record_event


def test_a_postgres_store_keeps_its_tables_in_the_schema_the_url_names(
    postgres_url: str,
) -> None:
    with Store(postgres_url) as store:
        store.migrate()

    engine = create_engine(postgres_url)
    with engine.connect() as connection:
        schema = connection.scalar(text("SELECT current_schema()"))
        tables = connection.scalars(
            text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema() ORDER BY table_name"
            )
        ).all()
    engine.dispose()

    assert schema is not None
    assert schema.startswith("caspira_test_")
    assert tables == [
        "caspira_audit",
        "caspira_comment_links",
        "caspira_event_attempts",
        "caspira_events",
        "caspira_field_sync",
        "caspira_links",
    ]


def test_a_plain_postgresql_url_opens_with_psycopg(postgres_url: str) -> None:
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)

    with Store(plain) as store:
        store.migrate()
        stored = store.store_events([record_event("record-1", "delivery-1")])

    assert len(stored) == 1


def test_a_sqlite_store_writes_ahead_to_a_log(sqlite_url: str) -> None:
    with Store(sqlite_url) as store:
        store.migrate()

    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as connection:
        [mode] = connection.execute("PRAGMA journal_mode").fetchone()

    assert mode == "wal"


def test_an_unsupported_database_is_refused_without_its_password() -> None:
    with pytest.raises(StoreError, match="database 'mysql'") as refused:
        Store("mysql://caspira:hunter2@127.0.0.1/caspira")

    assert "hunter2" not in str(refused.value)


def test_a_url_that_cannot_be_read_is_refused() -> None:
    with pytest.raises(StoreError, match="store URL cannot be read"):
        Store("caspira.db")


def test_an_in_memory_sqlite_database_is_refused() -> None:
    with pytest.raises(StoreError, match="in-memory SQLite"):
        Store("sqlite://")


def test_a_database_that_does_not_answer_raises_store_unavailable() -> None:
    # A port that was free a moment ago: nothing listens there.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+psycopg://caspira:hunter2@127.0.0.1:{port}/caspira"

    with Store(url) as store, pytest.raises(StoreUnavailable) as unavailable:
        store.migrate()

    assert f"127.0.0.1:{port}" in str(unavailable.value)
    assert "hunter2" not in str(unavailable.value)


def test_a_store_whose_tables_were_never_created_says_so(database_url: str) -> None:
    with Store(database_url) as store, pytest.raises(StoreRefused) as refused:
        store.store_events([record_event("record-1", "delivery-1")])

    assert "tables do not exist" in str(refused.value)
    assert "reachable" not in str(refused.value)


def test_a_lock_held_past_the_servers_lock_timeout_is_reported_as_such(
    postgres_url: str,
) -> None:
    url = make_url(postgres_url)
    options = f"{url.query['options']} -c lock_timeout=200ms"
    impatient = url.update_query_dict({"options": options})
    holder = create_engine(postgres_url)

    with Store(impatient.render_as_string(hide_password=False)) as store:
        store.migrate()
        [event_id] = store.store_events([record_event("record-1", "delivery-1")])
        with holder.begin() as connection:
            connection.execute(text("SELECT id FROM caspira_events FOR UPDATE"))
            with pytest.raises(StoreUnavailable) as unavailable:
                store.discard_event(event_id)
    holder.dispose()

    assert "lock timeout" in unavailable.value.reason
    assert "pg_stat_activity" in str(unavailable.value)
    assert "reachable" not in str(unavailable.value)


def test_running_out_of_shared_memory_is_reported_with_the_lock_table_fix() -> None:
    # What PostgreSQL answered when one intake took a lock per record key.
    answer = psycopg.errors.OutOfMemory("out of shared memory")

    failure = store_failure("postgresql://db", OperationalError("INSERT", {}, answer))

    assert isinstance(failure, StoreRefused)
    assert str(failure).startswith(
        "the store database postgresql://db refused the operation: out of shared "
        "memory. Fix: "
    )
    assert "max_locks_per_transaction" in str(failure)


def test_migrating_a_database_of_an_earlier_release_updates_its_indexes(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    with Store(database_url) as store:
        store.migrate()
        with engine.begin() as connection:
            connection.execute(text("DROP INDEX ix_caspira_events_claimable"))
            connection.execute(
                text(
                    "CREATE INDEX ix_caspira_events_due "
                    "ON caspira_events (tenant, next_attempt_at)"
                )
            )

        store.migrate()

    names = {index["name"] for index in inspect(engine).get_indexes("caspira_events")}
    engine.dispose()
    assert "ix_caspira_events_claimable" in names
    assert "ix_caspira_events_due" not in names
