"""Which database, and how to connect to it.

``DATABASE_URL`` picks the database. Without it, events go to a sqlite file,
``dbstorage/assistant_mediator.db`` relative to the working directory; PostgreSQL
(``postgresql+psycopg://user:pass@host/db``) is the store for several processes or machines.

Nothing happens at import. `make_engine` builds an engine without connecting; for a sqlite file
it creates the file's folder then (not before). Every sqlite connection is set up by a
``connect`` event: WAL journal (readers never block the writer), a busy timeout (a locked file
makes a writer wait a little, then fail and retry, instead of failing at once), foreign keys on,
and SQLAlchemy in charge of ``BEGIN`` (the sqlite3 module's own transaction handling is turned
off, as the SQLAlchemy docs recommend), so that transactional DDL and ``BEGIN IMMEDIATE`` work.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from persistence.settings import DEFAULT_DATABASE_URL, PersistenceSettings
from tools.settings import given_values_only

__all__ = [
    "DEFAULT_DATABASE_URL",
    "SQLITE_BEGIN_OPTION",
    "database_url",
    "display_url",
    "is_sqlite",
    "make_engine",
    "shared_engine",
]

"""Where events go when ``DATABASE_URL`` is not set (relative to the working directory)."""

SQLITE_BEGIN_OPTION: Final = "sqlite_begin"
"""Execution option naming the sqlite ``BEGIN`` flavour (``"IMMEDIATE"`` for writers)."""

DEFAULT_BUSY_TIMEOUT_MS: Final = 5000
DEFAULT_CONNECT_TIMEOUT_S: Final = 5


def database_url(environ: Mapping[str, str] | None = None) -> str:
    """The ``DATABASE_URL`` setting (environment, then `.env`), else `DEFAULT_DATABASE_URL`.

    With `environ`, only that mapping is looked at (no `.env`). Raises `ValueError` naming
    ``DATABASE_URL`` when it is set to something the recorder cannot use.
    """
    try:
        if environ is None:
            url = PersistenceSettings().database_url
        else:
            with given_values_only():
                url = PersistenceSettings.model_validate(
                    {"DATABASE_URL": environ.get("DATABASE_URL")}
                ).database_url
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise ValueError(f"DATABASE_URL: {problem}") from None
    return url or DEFAULT_DATABASE_URL


def display_url(url: str | URL | Engine) -> str:
    """`url` as text with any password hidden: safe for logs and messages."""
    if isinstance(url, Engine):
        url = url.url
    return make_url(url).render_as_string(hide_password=True)


def is_sqlite(url: str | URL | Engine) -> bool:
    """True for a sqlite URL (or an engine on one)."""
    if isinstance(url, Engine):
        return url.dialect.name == "sqlite"
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _setup_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        # SQLAlchemy emits BEGIN itself (below); the driver must not.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        flavour = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        if flavour not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError(f"unknown sqlite BEGIN flavour {flavour!r}")
        connection.exec_driver_sql(f"BEGIN {flavour}")


def make_engine(
    url: str | URL | None = None,
    *,
    busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    connect_timeout_s: int = DEFAULT_CONNECT_TIMEOUT_S,
    echo: bool = False,
) -> Engine:
    """An engine for `url` (default: `database_url()`), ready for the recorder and the history.

    sqlite: creates the default file's folder (any other folder must exist), WAL mode,
    `busy_timeout_ms`. PostgreSQL: connections are checked before use (a restarted server is
    noticed, not fatal) and a connection attempt gives up after `connect_timeout_s` unless
    the URL sets its own.
    Does not connect.
    """
    parsed = make_url(url if url is not None else database_url())
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_file(parsed)
        if path is not None:
            if not path.parent.is_dir() and parsed == make_url(DEFAULT_DATABASE_URL):
                path.parent.mkdir(parents=True, exist_ok=True)  # our default only, not a typo
            engine = create_engine(parsed, echo=echo)
        else:  # in memory: one connection shared by every thread, or each sees its own database
            engine = create_engine(
                parsed,
                echo=echo,
                poolclass=StaticPool,
                connect_args={"check_same_thread": False},
            )
        _setup_sqlite(engine, busy_timeout_ms)
        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = connect_timeout_s
    return create_engine(parsed, echo=echo, pool_pre_ping=True, connect_args=connect_args)


_shared: dict[str, Engine] = {}
_shared_lock = threading.Lock()


def shared_engine(url: str | None = None) -> Engine:
    """The process's engine for `url` (default: `database_url()`): one pool per database,
    however many conversations or stores use it. Never disposed by its users."""
    key = url if url is not None else database_url()
    with _shared_lock:
        engine = _shared.get(key)
        if engine is None:
            engine = _shared[key] = make_engine(key)
        return engine
