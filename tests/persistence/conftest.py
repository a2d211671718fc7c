"""Fixtures for the persistence suite: sqlite files in tmp_path, a fresh PostgreSQL database.

PostgreSQL tests use the server at ``TEST_POSTGRES_URL`` (default: the local ``test`` database
as user postgres on 127.0.0.1:5432); each gets a uniquely named database, dropped afterwards.
Where the server is not reachable they skip, saying so.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from persistence import make_engine, upgrade_schema

PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(autouse=True)
def _simulated_quotes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUOTE_SOURCE", "simulated")


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the PostgreSQL maintenance database; skips if unreachable."""
    url = make_url(PG_ADMIN_URL)
    engine = create_engine(url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to connect means: no server for these tests
        engine.dispose()
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        pytest.skip(f"PostgreSQL not reachable at {url.host}:{url.port or 5432}: {reason}")
    yield engine
    engine.dispose()


def _fresh_pg_database(admin: Engine) -> Iterator[str]:
    name = f"am_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def pg_url(pg_admin: Engine) -> Iterator[str]:
    """The URL of an empty PostgreSQL database made for this test."""
    yield from _fresh_pg_database(pg_admin)


@pytest.fixture(scope="module")
def pg_module_url(pg_admin: Engine) -> Iterator[str]:
    """An empty PostgreSQL database shared by one module's tests."""
    yield from _fresh_pg_database(pg_admin)


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/events.db"


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: object) -> str:
    """An empty database of each kind: a sqlite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/events.db"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    """An engine on `db_url` with the schema at head."""
    engine = make_engine(db_url)
    upgrade_schema(engine)
    yield engine
    engine.dispose()
