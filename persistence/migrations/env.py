"""Alembic environment: migrate the connection `persistence.schema` hands over.

`persistence.schema` builds the Alembic config in code and passes an open connection in
``config.attributes["connection"]``; with only a URL (``sqlalchemy.url``), one is made here
with `persistence.engine.make_engine`. Migrations run in one transaction (sqlite included:
the engine lets SQLAlchemy emit ``BEGIN``), under a lock so that two ``db_setup.py`` (or two
recorders auto-creating a sqlite file) never migrate at once: ``BEGIN IMMEDIATE`` on sqlite,
a transaction-scoped advisory lock on PostgreSQL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, func, select

from persistence.engine import SQLITE_BEGIN_OPTION, make_engine
from persistence.models import Base

MIGRATION_LOCK_KEY = 0x61736D6564  # "asmed": any constant shared by every migrating process


def run_migrations(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        connection.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        transactional_ddl=True,
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
        context.run_migrations()


def main() -> None:
    config = context.config
    given = config.attributes.get("connection")
    if given is not None:
        run_migrations(given)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as connection:
            run_migrations(connection)
            connection.commit()
    finally:
        engine.dispose()


main()
