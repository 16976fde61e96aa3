"""Opening the store's database: a SQLite file tuned for several writers, or PostgreSQL.

Only these two are supported, because intake and link writes rely on their
``INSERT .. ON CONFLICT``.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from caspira.store._errors import StoreError

__all__ = ["WRITE", "describe", "open_engine"]

#: Execution option marking a connection whose transactions write. On SQLite they
#: begin IMMEDIATE: the write lock is taken up front, so a transaction that reads
#: and then writes cannot fail half-way with "database is locked".
WRITE = {"caspira_write": True}

_BUSY_TIMEOUT_MS = 30_000
_URL_FIX = "use sqlite:///path/to/caspira.db or postgresql+psycopg://user@host/db"


def open_engine(url: str) -> Engine:
    """An engine for ``url``; raises :class:`StoreError` for any other database."""
    parsed = _parse(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, json_serializer=_to_json)
        _tune_sqlite(engine)
        return engine
    return create_engine(parsed, json_serializer=_to_json, pool_pre_ping=True)


def describe(engine: Engine) -> str:
    """The engine's database for messages: its URL without the password."""
    return engine.url.render_as_string(hide_password=True)


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(
            f"store URL cannot be read (it starts {url.split(':', 1)[0]!r}). "
            f"Fix: {_URL_FIX}"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise StoreError(
            f"store URL names database {backend!r}, which caspira does not support. "
            f"Fix: {_URL_FIX}"
        )
    if backend == "sqlite" and parsed.database in (None, "", ":memory:"):
        # Every pooled connection would open a database of its own.
        raise StoreError(
            "store URL names an in-memory SQLite database, which each connection "
            "would see empty. Fix: name a file, such as sqlite:///caspira.db"
        )
    if backend == "postgresql" and parsed.get_driver_name() != "psycopg":
        # psycopg 3 is the driver caspira installs; a bare postgresql:// means it.
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _to_json(value: Any) -> str:
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to the "begin" hook below instead of pysqlite,
        # which would otherwise begin transactions lazily and always DEFERRED.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        writes = connection.get_execution_options().get("caspira_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")
