"""The schema's revision: read it, check it, create or upgrade it with Alembic, in code.

The Alembic environment lives in ``persistence/migrations`` (``env.py`` + ``versions/``); the
`alembic.config.Config` is built here, so no ``alembic.ini`` is needed. ``db_setup.py`` calls
`upgrade_schema`; the recorder calls `ensure_schema` when it starts.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import OperationalError

from persistence.engine import display_url
from persistence.errors import DatabaseUnavailableError, SchemaError, SchemaNotReadyError

__all__ = [
    "MIGRATIONS_DIR",
    "SchemaChange",
    "alembic_config",
    "check_schema",
    "current_revision",
    "ensure_schema",
    "head_revision",
    "upgrade_schema",
]

_logger = logging.getLogger(__name__)

MIGRATIONS_DIR: Final = Path(__file__).resolve().parent / "migrations"
"""Alembic's script location: ``env.py`` and ``versions/``."""

_OUR_TABLES: Final = ("conversations", "runs", "run_events")

# Alembic keeps its running environment in module globals (`alembic.context`): two threads
# upgrading at once (the recorder, the journal and the assistant store of one process, on
# first use) would share it and fail with `KeyError: 'config'`. One at a time.
_alembic_lock = threading.RLock()


@dataclass(frozen=True, slots=True)
class SchemaChange:
    """What `upgrade_schema` did: the revision before (None: no schema) and after."""

    url: str
    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def describe(self) -> str:
        """One line for people: created / upgraded / nothing to do."""
        if self.before is None:
            return f"created schema at revision {self.after} in {self.url}"
        if self.changed:
            return f"upgraded {self.before} -> {self.after} in {self.url}"
        return f"already at head {self.after}, nothing to do ({self.url})"


def alembic_config(engine: Engine | None = None) -> Config:
    """An Alembic config for the migrations in this package (``sqlalchemy.url`` from `engine`)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        url = engine.url.render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The revision this code expects (the newest in ``versions/``)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships revisions
        raise SchemaError("no migrations found", url="-", current=None, head="-")
    return head


def _read_revision(engine: Engine) -> tuple[str | None, bool]:
    """(the database's revision, whether it holds our tables) in one connection."""
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
            tables = set(inspect(connection).get_table_names())
    except OperationalError as exc:
        raise DatabaseUnavailableError(display_url(engine), str(exc.orig)) from exc
    return current, bool(tables.intersection(_OUR_TABLES))


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision, None when it has no schema yet."""
    return _read_revision(engine)[0]


def _known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


def check_schema(engine: Engine) -> str:
    """Return the revision if the database is at head; raise a clear error otherwise.

    Raises `SchemaNotReadyError` when the schema is missing or behind (the message names
    ``python db_setup.py``), `SchemaError` when the database is at a revision this code does
    not know (made by newer code) or holds our tables without a revision.
    """
    current, has_tables = _read_revision(engine)
    head = head_revision()
    url = display_url(engine)
    if current == head:
        return head
    if current is None and has_tables:
        raise SchemaError(
            f"{url} holds conversation tables but no schema revision; it was not made by "
            "db_setup.py. Use another database or drop these tables.",
            url=url,
            current=None,
            head=head,
        )
    if current is not None and not _known(current):
        raise SchemaError(
            f"{url} is at schema revision {current}, which this code does not know "
            f"(head {head}): it was upgraded by newer code",
            url=url,
            current=current,
            head=head,
        )
    what = "has no schema" if current is None else f"is at schema revision {current}"
    raise SchemaNotReadyError(
        f"{url} {what}, expected {head}: run `python db_setup.py --url <DATABASE_URL>` "
        "to create or upgrade it",
        url=url,
        current=current,
        head=head,
    )


def upgrade_schema(engine: Engine, revision: str = "head") -> SchemaChange:
    """Create or upgrade the schema to `revision` (default head), in one transaction."""
    before, has_tables = _read_revision(engine)
    url = display_url(engine)
    if before is None and has_tables:
        check_schema(engine)  # raises the "tables without a revision" error
    config = alembic_config(engine)
    try:
        with _alembic_lock, engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            connection.commit()
    except CommandError as exc:
        raise SchemaError(
            f"cannot upgrade {url} to {revision}: {exc}", url=url, current=before, head=revision
        ) from exc
    after = current_revision(engine)
    if after is None:  # pragma: no cover - an upgrade always stamps a revision
        raise SchemaError(f"{url} has no revision after upgrading", url=url, current=None, head="")
    change = SchemaChange(url=url, before=before, after=after)
    _logger.info("schema: %s", change.describe())
    return change


def ensure_schema(engine: Engine, *, upgrade: bool) -> str:
    """Check the schema is at head; with `upgrade`, create or upgrade it first if needed."""
    with _alembic_lock:
        if upgrade:
            upgrade_schema(engine)
        return check_schema(engine)
