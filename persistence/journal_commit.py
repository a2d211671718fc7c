"""One batch of journal rows in one transaction, straight through the database driver.

The journal writer commits a few rows at a time, several times an exchange; through a
SQLAlchemy `Connection` most of that commit's CPU went to the layers around the two
statements (events, execution contexts, result set-up), in the writer thread competing with
the conversations for the interpreter lock. Here the insert is written once, the values are
converted by the column types' own bind processors (sqlite stores `at` as SQLAlchemy reads it
back), and the driver runs ``BEGIN IMMEDIATE`` (sqlite) / the insert / ``COMMIT`` on a pooled
connection (PostgreSQL's checked before use, as every pooled connection is). Another
database than sqlite or PostgreSQL goes through SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, Table

from persistence.engine import SQLITE_BEGIN_OPTION

__all__ = ["batch_committer"]

Rows = list[dict[str, Any]]


def batch_committer(engine: Engine, table: Table) -> Callable[[Rows], None]:
    """A function inserting rows (dicts with every column of `table` but its key) and
    committing them, in one transaction per call."""
    dialect = engine.dialect
    columns = [column for column in table.columns if not column.primary_key]
    names = [column.name for column in columns]
    if dialect.name == "sqlite" and dialect.paramstyle == "qmark":
        places = ", ".join("?" for _ in names)
    elif dialect.name == "postgresql" and dialect.paramstyle == "pyformat":
        places = ", ".join(f"%({name})s" for name in names)
    else:
        return _through_sqlalchemy(engine, table)
    quote = dialect.identifier_preparer
    quoted = ", ".join(quote.quote(name) for name in names)
    sql = f"INSERT INTO {quote.format_table(table)} ({quoted}) VALUES ({places})"
    converters = [
        (name, processor)
        for name, column in zip(names, columns, strict=True)
        if (processor := column.type.dialect_impl(dialect).bind_processor(dialect)) is not None
    ]
    sqlite = dialect.name == "sqlite"

    def convert(row: dict[str, Any]) -> dict[str, Any]:
        converted = dict(row)
        for name, processor in converters:
            if converted[name] is not None:
                converted[name] = processor(converted[name])
        return converted

    def commit(rows: Rows) -> None:
        values = [convert(row) for row in rows]
        parameters: list[Any] = (
            [tuple(row[name] for name in names) for row in values] if sqlite else values
        )
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                if sqlite:  # the driver leaves BEGIN to us (engine.py): take the write lock now
                    cursor.execute("BEGIN IMMEDIATE")
                cursor.executemany(sql, parameters)
                connection.commit()
            except BaseException:
                connection.rollback()
                raise
            finally:
                cursor.close()
        finally:
            connection.close()  # back to the pool

    return commit


def _through_sqlalchemy(engine: Engine, table: Table) -> Callable[[Rows], None]:
    insert = table.insert()
    options = {SQLITE_BEGIN_OPTION: "IMMEDIATE"} if engine.dialect.name == "sqlite" else {}

    def commit(rows: Rows) -> None:
        with engine.connect().execution_options(**options) as connection:
            with connection.begin():
                connection.execute(insert, rows)

    return commit
