"""What a database error means for the operator: which store error, and the fix.

Errors are told apart by PostgreSQL's SQLSTATE and SQLite's result code; only
SQLite's catch-all code needs a look at the text.
"""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DBAPIError, OperationalError

from caspira.store._errors import (
    REACH_FIX,
    StoreError,
    StoreRefused,
    StoreUnavailable,
)

__all__ = ["store_failure"]

_TIMEOUT = (
    "a statement waited longer than the server allows (lock_timeout or "
    "statement_timeout), most likely behind another transaction; look for long "
    "transactions in pg_stat_activity, then try again"
)
_MISSING_TABLES = (
    "the store's tables do not exist in this database; start caspira serve or "
    "caspira worker once with this store URL, which creates them"
)

# SQLSTATE (or its two-character class) -> True when the server did not answer,
# and the fix.
_POSTGRES: dict[str, tuple[bool, str]] = {
    "08": (True, REACH_FIX),
    "57P01": (True, "the server is shutting down; try again once it is back"),
    "57P02": (True, "the server is restarting; try again once it is back"),
    "57P03": (True, "the server is starting up; try again in a moment"),
    "55P03": (True, _TIMEOUT),
    "57014": (True, _TIMEOUT),
    "53200": (
        False,
        "the server ran out of memory or of its shared lock table; raise "
        "max_locks_per_transaction (or shared memory) in postgresql.conf and "
        "restart it, or look in pg_locks for sessions holding many locks",
    ),
    "53100": (False, "the server's disk is full; free space on it"),
    "53300": (
        False,
        "the server has no free connection slot; raise max_connections or run "
        "fewer caspira processes against it",
    ),
    "53": (False, "the server is short of a resource; its log names which"),
    "40": (
        False,
        "another transaction collided with this one (a deadlock or a "
        "serialization failure); nothing to repair, try again",
    ),
    "42P01": (False, _MISSING_TABLES),
    "25006": (
        False,
        "the server accepts only reads (a standby?); point the store URL at the "
        "primary",
    ),
}

# SQLite result code names, primary part -> the same.
_SQLITE: dict[str, tuple[bool, str]] = {
    "SQLITE_BUSY": (
        True,
        "another connection held the file's write lock for more than 30 s; look "
        "for another process writing to it (a second caspira, a backup, a sqlite3 "
        "shell in a transaction), then try again",
    ),
    "SQLITE_LOCKED": (True, "another connection held a lock too long; try again"),
    "SQLITE_CANTOPEN": (
        True,
        "the file cannot be opened; check that its folder exists and that this "
        "user may read and write there",
    ),
    "SQLITE_READONLY": (
        False,
        "the file is read-only for this process; let this user write the file "
        "and its folder",
    ),
    "SQLITE_FULL": (False, "the disk holding the file is full; free space on it"),
    "SQLITE_IOERR": (False, "the disk failed a read or write; check the disk"),
    "SQLITE_CORRUPT": (False, "the file is damaged; restore it from a backup"),
    "SQLITE_NOTADB": (False, "the file is not a SQLite database; check the URL"),
}

_UNKNOWN = (False, "the database's own log says more; fix the cause, then try again")


def store_failure(where: str, error: DBAPIError) -> StoreError | None:
    """The store error to raise for ``error`` from database ``where``.

    ``None`` when the error is the query's doing rather than the database's (a
    bug), so the caller lets it through unchanged.
    """
    driver_error = error.orig
    # Only the first line: the rest can repeat the statement's parameters, which
    # may hold record values.
    text = str(driver_error).strip().splitlines()[0] if driver_error else ""
    sqlstate = getattr(driver_error, "sqlstate", None)

    if isinstance(driver_error, sqlite3.Error):
        # SQLITE_IOERR_WRITE shares the fix of SQLITE_IOERR.
        name = driver_error.sqlite_errorname or ""
        known = _SQLITE.get("_".join(name.split("_")[:2]))
        if known is None and text.startswith("no such table"):
            known = (False, _MISSING_TABLES)
    elif sqlstate is not None:
        known = _POSTGRES.get(sqlstate) or _POSTGRES.get(sqlstate[:2])
    else:
        # No code at all: the driver got no answer from a server.
        known = (True, REACH_FIX) if isinstance(error, OperationalError) else None

    if known is None:
        if not isinstance(error, OperationalError):
            return None
        known = _UNKNOWN
    unanswered, fix = known
    failure = StoreUnavailable if unanswered else StoreRefused
    return failure(where, text or "no answer", fix)
