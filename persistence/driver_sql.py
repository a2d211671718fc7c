"""The writer's statements as driver SQL: compiled once, run with plain tuples.

SQLAlchemy's ``executemany`` of a compiled statement processes every parameter of every row in
Python (a dict per row, the bind processors of its types): that was most of the writer's CPU
per stored event. Here each statement of `persistence.statements` is compiled once, for the
engine's dialect with positional parameters, and the writer passes its rows as tuples through
`Connection.exec_driver_sql`: the same connection and transaction, and the driver's errors
wrapped as SQLAlchemy's (so an outage is still told from a refused record). The driver does
the rest in C (sqlite3's ``executemany``; psycopg's in pipeline mode).

The one conversion SQLAlchemy did that matters is the time columns' (`UTCDateTime`): timezone
aware in, UTC out, naive refused; on sqlite, UTC wall time as text in SQLAlchemy's own format.
`time_value` does it; a test holds it equal to `UTCDateTime`'s bind processing.

On PostgreSQL with psycopg, the two inserts with the most rows (events, messages) go through
``COPY`` (`CopyInsert`): psycopg's ``executemany`` still costs about 10 µs of client CPU per
row, ``COPY`` a third of it. The rows are copied into a temporary table, then moved with the
same ``INSERT ... ON CONFLICT DO NOTHING`` in their batch order, in the batch's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler

from persistence.models import UTCDateTime

__all__ = ["CopyInsert", "DriverStatement", "Insert", "compile_for_driver", "time_value"]

TimeValue = Callable[[datetime | None], Any]


def _naive(value: datetime) -> ValueError:
    return ValueError(f"naive datetime {value!r}: give a timezone-aware one")


def _sqlite_time(value: datetime | None) -> str | None:
    """UTC wall time as SQLAlchemy's sqlite ``DATETIME`` stores it (sorts as text)."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        if value.tzinfo is None or value.utcoffset() is None:
            raise _naive(value)
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _aware_time(value: datetime | None) -> datetime | None:
    """The time in UTC, for a ``timestamptz`` column."""
    if value is None or value.tzinfo is UTC:
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise _naive(value)
    return value.astimezone(UTC)


def time_value(dialect_name: str) -> TimeValue:
    """How a `UTCDateTime` value is passed to the driver of `dialect_name`."""
    return _sqlite_time if dialect_name == "sqlite" else _aware_time


@dataclass(frozen=True, slots=True)
class DriverStatement:
    """One statement as driver SQL, with the order its tuples' values must come in."""

    sql: str
    names: tuple[str, ...]
    """The parameter of each position (a name may repeat: it is then passed twice)."""
    times: tuple[int, ...]
    """Positions holding a `UTCDateTime`: converted by `time`."""
    constants: dict[str, Any]
    """Values the statement itself fixes (literals SQLAlchemy made parameters, like a LIMIT)."""
    time: TimeValue

    def run(self, connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """Run the statement once per row (tuples in `names` order, times not yet converted)."""
        if not rows:
            return
        if self.times:
            rows = [self._convert(row) for row in rows]
        connection.exec_driver_sql(self.sql, rows)

    def run_dicts(self, connection: Connection, rows: Iterable[dict[str, Any]]) -> None:
        """Run the statement once per row given by parameter name (the statements' few rows)."""
        constants = self.constants
        if constants:
            rows = ({**constants, **row} for row in rows)
        pick = itemgetter(*self.names)
        if len(self.names) == 1:
            self.run(connection, [(pick(row),) for row in rows])
        else:
            self.run(connection, [pick(row) for row in rows])

    def _convert(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        values = list(row)
        for position in self.times:
            values[position] = self.time(values[position])
        return tuple(values)


def _positional(dialect_type: type[Dialect]) -> Dialect:
    """A dialect of `dialect_type` with positional parameters (``?`` or ``%s``)."""
    dialect = dialect_type()
    if dialect.positional:
        return dialect
    return dialect_type(paramstyle="format")  # type: ignore[call-arg]


def compile_for_driver(
    statement: Any, dialect: Dialect, columns: Sequence[str] | None = None
) -> DriverStatement:
    """`statement` compiled for `dialect`'s driver; an INSERT with exactly `columns`."""
    positional = _positional(type(dialect))
    if columns is not None:  # inline: no RETURNING of the generated key
        statement = statement.inline()
    compiled = statement.compile(
        dialect=positional, column_keys=list(columns) if columns is not None else None
    )
    assert isinstance(compiled, SQLCompiler)
    assert compiled.positiontup is not None
    names = tuple(compiled.positiontup)
    if columns is not None and names != tuple(columns):
        raise AssertionError(f"{statement.table}: compiled order {names} is not {columns}")
    binds = compiled.binds  # by the names the compiled SQL uses
    times = tuple(i for i, name in enumerate(names) if isinstance(binds[name].type, UTCDateTime))
    constants = {name: binds[name].value for name in names if not binds[name].required}
    return DriverStatement(
        sql=compiled.string,
        names=names,
        times=times,
        constants=constants,
        time=time_value(dialect.name),
    )


@dataclass(frozen=True, slots=True)
class CopyInsert:
    """An ``INSERT ... ON CONFLICT DO NOTHING`` of many rows through ``COPY`` (psycopg only).

    The rows go to a temporary table (one per session, emptied at every commit), then into
    the target in their given order (a position column), conflicts ignored as before.
    """

    create: str
    copy: str
    move: str
    times: tuple[int, ...]
    time: TimeValue

    @classmethod
    def build(cls, dialect: Dialect, table: str, key: str, like: DriverStatement) -> CopyInsert:
        """The `like` insert (its columns and times) into `table`, ignoring conflicts on `key`."""
        columns = like.names
        quote = dialect.identifier_preparer.quote
        listed = ", ".join(quote(c) for c in columns)
        scratch = quote(f"recorder_copy_{table}")
        return cls(
            create=(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {scratch} ON COMMIT DELETE ROWS AS "
                f"SELECT 0::integer AS batch_position, {listed} FROM {quote(table)} WITH NO DATA"
            ),
            copy=f"COPY {scratch} (batch_position, {listed}) FROM STDIN",
            move=(
                f"INSERT INTO {quote(table)} ({listed}) SELECT {listed} FROM {scratch} "
                f"ORDER BY batch_position ON CONFLICT ({quote(key)}) DO NOTHING"
            ),
            times=like.times,
            time=like.time,
        )

    def run(self, connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        connection.exec_driver_sql(self.create)
        self.copy_rows(connection, rows)
        connection.exec_driver_sql(self.move)

    def copy_rows(self, connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """COPY `rows` into the temporary table; the driver's errors raised as SQLAlchemy's."""
        pooled = connection.connection
        cursor: Any = pooled.cursor()  # psycopg's, for its COPY
        try:
            with cursor.copy(self.copy) as copy:
                write, times, time = copy.write_row, self.times, self.time
                for position, row in enumerate(rows):
                    if times:
                        values = list(row)
                        for at in times:
                            values[at] = time(values[at])
                        row = tuple(values)
                    write((position, *row))
        except connection.dialect.loaded_dbapi.Error as exc:
            # As SQLAlchemy would: a lost connection is invalidated (not rolled back, not
            # pooled again) and the error raised as its own, so an outage is told from a
            # refused record.
            lost = connection.dialect.is_disconnect(exc, pooled.dbapi_connection, cursor)
            if lost:
                connection.invalidate(exc)
            raise DBAPIError.instance(
                self.copy,
                None,
                exc,
                connection.dialect.loaded_dbapi.Error,
                connection_invalidated=lost,
                dialect=connection.dialect,
            ) from exc
        finally:
            cursor.close()


Insert = DriverStatement | CopyInsert
"""A hot insert, either way."""
