"""Fixtures shared by the whole suite: one database per test, on SQLite and PostgreSQL.

PostgreSQL tests use the server named by ``CASPIRA_TEST_POSTGRES_URL`` (default: the
local server at 127.0.0.1:5432, database ``test``). Each test gets a schema of its own,
dropped afterwards. When no server answers the tests skip, saying how to enable them;
with ``CASPIRA_REQUIRE_POSTGRES=1`` (as CI sets it) they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

# The shared example inputs and API descriptions sit beside the checkout.
SHARED = Path(
    os.environ.get("CASPIRA_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared")
)
CASES = SHARED / "cases"
SPECS = SHARED / "specs"

POSTGRES_URL = os.environ.get(
    "CASPIRA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _postgres_admin_conninfo() -> str:
    return POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://", 1)


def pytest_configure(config: pytest.Config) -> None:
    if not (CASES.is_dir() and SPECS.is_dir()):
        raise pytest.UsageError(
            f"the shared example inputs are not at {SHARED}: check out the project "
            "beside its shared/ folder, or set CASPIRA_SHARED_DIR to that folder"
        )


@pytest.fixture(scope="session")
def postgres_available() -> bool:
    import psycopg

    try:
        with psycopg.connect(_postgres_admin_conninfo(), connect_timeout=3):
            return True
    except psycopg.OperationalError as exc:
        if os.environ.get("CASPIRA_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required, unreachable at {POSTGRES_URL}: {exc}")
        return False


@pytest.fixture
def postgres_url(postgres_available: bool) -> Iterator[str]:
    """A database URL whose search_path is a fresh schema, dropped after the test."""
    if not postgres_available:
        pytest.skip(
            f"no PostgreSQL at {POSTGRES_URL}; start one (pg_ctlcluster ... main "
            "start) or set CASPIRA_TEST_POSTGRES_URL to a reachable server"
        )
    import psycopg

    schema = f"caspira_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_postgres_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(_postgres_admin_conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'caspira.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test that asks for this runs once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
