"""The writer's statements as driver SQL: compiled once, run with plain tuples.

SQLAlchemy's ``executemany`` of a compiled statement processes every parameter of every row in
Python (a dict per row, the bind processors of its types): that was most of the writer's CPU
per stored event. Here each statement of `persistence.statements` is compiled once, for the
engine's dialect with positional parameters, and the writer passes its rows as tuples to the
driver's own cursor, in a transaction run straight on a pooled driver connection
(`driver_transaction`), the driver's errors raised as SQLAlchemy's (so an outage is still told
from a refused record). The driver does the rest in C (sqlite3's ``executemany``; psycopg's in
pipeline mode). The exchange journal writes its rows the same way.

The one conversion SQLAlchemy did that matters is the time columns' (`UTCDateTime`): timezone
aware in, UTC out, naive refused; on sqlite, UTC wall time as text in SQLAlchemy's own format.
`time_value` does it; a test holds it equal to `UTCDateTime`'s bind processing.

Why rows are not passed one by one where it can be helped: the driver lets go of the
interpreter lock for each statement it steps (sqlite3 does per row of an ``executemany``), and
while a publisher keeps the event loop busy, taking the lock back can wait the whole switch
interval (5 ms): a writer that steps per row crawls exactly when events pour in. So on sqlite
the inserts are multi-row ``VALUES`` statements (`ValuesInsert`, up to 256 rows in one step),
and on PostgreSQL with psycopg the two inserts with the most rows (events, messages) go through
``COPY`` (`CopyInsert`): psycopg's ``executemany`` still costs about 10 µs of client CPU per
row, ``COPY`` a third of it. The rows are copied into a temporary table, then moved with the
same ``INSERT ... ON CONFLICT DO NOTHING`` in their batch order, in the batch's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain
from operator import itemgetter
from typing import Any, Final

from sqlalchemy import JSON, Dialect, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler

from persistence.models import UTCDateTime

__all__ = [
    "CopyInsert",
    "DriverStatement",
    "Insert",
    "ValuesInsert",
    "compile_for_driver",
    "driver_transaction",
    "time_value",
]

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
    others: tuple[tuple[int, Callable[[Any], Any]], ...] = ()
    """Positions whose type converts its values in Python (JSON): the type's own processor."""

    def run(self, cursor: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        """Run the statement once per row (tuples in `names` order, times not yet converted)
        on the driver's `cursor` (see `driver_transaction`)."""
        if not rows:
            return
        if self.times or self.others:
            rows = [self._convert(row) for row in rows]
        if len(rows) == 1:
            cursor.execute(self.sql, rows[0])
        else:
            cursor.executemany(self.sql, rows)

    def run_dicts(self, cursor: Any, rows: Sequence[dict[str, Any]]) -> None:
        """Run the statement once per row given by parameter name (the statements' few rows)."""
        if not rows:
            return
        constants = self.constants
        if constants:
            rows = [{**constants, **row} for row in rows]
        pick = itemgetter(*self.names)
        if len(self.names) == 1:
            self.run(cursor, [(pick(row),) for row in rows])
        else:
            self.run(cursor, [pick(row) for row in rows])

    def _convert(self, row: tuple[Any, ...]) -> tuple[Any, ...]:
        converted = _converted(row, self.times, self.time)
        if not self.others:
            return converted
        values = list(converted)
        for position, process in self.others:
            if values[position] is not None:
                values[position] = process(values[position])
        return tuple(values)


def _converted(row: tuple[Any, ...], times: tuple[int, ...], time: TimeValue) -> tuple[Any, ...]:
    if not times:
        return row
    values = list(row)
    for position in times:
        values[position] = time(values[position])
    return tuple(values)


_VALUES_CHUNKS: Final = (256, 128, 64, 32, 16, 8, 4, 2, 1)
"""Rows per multi-row statement: a batch is cut in these sizes, so a handful of statement texts
serve every batch (and stay in the driver's statement cache)."""


@dataclass(frozen=True, slots=True)
class ValuesInsert:
    """An insert of many rows as a few multi-row ``VALUES`` statements (sqlite).

    The same statement as `like`, its one row of placeholders repeated; rows go in in their
    given order, each meeting ``ON CONFLICT`` as it would alone.
    """

    like: DriverStatement
    texts: dict[int, str] = field(default_factory=dict)
    """The statement for each size in `_VALUES_CHUNKS`."""

    @classmethod
    def build(cls, like: DriverStatement) -> ValuesInsert:
        head, values_and_tail = like.sql.split(" VALUES ", 1)
        group_end = values_and_tail.index(")") + 1
        group, tail = values_and_tail[:group_end], values_and_tail[group_end:]
        texts = {n: f"{head} VALUES {', '.join([group] * n)}{tail}" for n in _VALUES_CHUNKS}
        return cls(like, texts)

    def run(self, cursor: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        like = self.like
        if like.times:
            rows = [_converted(row, like.times, like.time) for row in rows]
        if len(rows) == 1:
            cursor.execute(like.sql, rows[0])
            return
        start = 0
        most = _variable_limit(cursor) // len(like.names)
        for size in _VALUES_CHUNKS:
            if size > most:  # an older or stricter sqlite: fewer rows per statement
                continue
            while len(rows) - start >= size:
                chunk = rows[start : start + size]
                cursor.execute(self.texts[size], tuple(chain.from_iterable(chunk)))
                start += size


def _variable_limit(cursor: Any) -> int:
    """How many parameters one statement may have on this sqlite connection (999 before
    sqlite 3.32, 32,766 since, unless built otherwise)."""
    getlimit = getattr(cursor.connection, "getlimit", None)
    if getlimit is None:
        return 999
    return int(getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))


@contextmanager
def driver_transaction(engine: Engine, what: str) -> Iterator[Any]:
    """One transaction straight on the driver: a pooled connection (PostgreSQL's checked
    before use, as every pooled connection is), ``BEGIN IMMEDIATE`` on sqlite (the write lock
    taken at once, waiting the busy timeout), the driver's own cursor; committed at the end,
    rolled back on an error. `what` names the work in errors (never the values).

    The driver's errors are raised as SQLAlchemy raises them. As SQLAlchemy does, a lost
    connection is invalidated (not rolled back, not pooled again) and the error says so: the
    recorder tells an outage from a refused record by that. Going around SQLAlchemy's
    `Connection` saves its work per transaction and per statement (events, execution
    contexts, result set-up), a good part of a small batch's cost.
    """
    dialect = engine.dialect
    try:
        pooled = engine.raw_connection()
    except dialect.loaded_dbapi.Error as exc:  # cannot connect: as `Engine.connect` says it
        raise _wrapped(what, exc, dialect, lost=dialect.is_disconnect(exc, None, None)) from exc
    cursor = None
    try:
        cursor = pooled.cursor()
        if dialect.name == "sqlite":  # the driver leaves BEGIN to us (persistence.engine)
            cursor.execute("BEGIN IMMEDIATE")
        yield cursor
        pooled.commit()
    except dialect.loaded_dbapi.Error as exc:
        lost = dialect.is_disconnect(exc, pooled.dbapi_connection, cursor)
        if lost:
            pooled.invalidate(exc)
        else:
            with suppress(Exception):
                pooled.rollback()
        raise _wrapped(what, exc, dialect, lost=lost) from exc
    except BaseException:
        with suppress(Exception):
            pooled.rollback()
        raise
    finally:
        if cursor is not None:
            with suppress(Exception):  # a cursor of a connection already gone
                cursor.close()
        pooled.close()  # back to the pool (or discarded, if invalidated)


def _wrapped(what: str, exc: Exception, dialect: Dialect, *, lost: bool) -> Exception:
    """The driver's error `exc` as SQLAlchemy raises it (`OperationalError`, ...)."""
    return DBAPIError.instance(
        what, None, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
    )


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
    others = tuple(
        (i, process)
        for i, name in enumerate(names)
        if isinstance(binds[name].type, JSON)
        and (process := binds[name].type.dialect_impl(positional).bind_processor(positional))
    )
    constants = {name: binds[name].value for name in names if not binds[name].required}
    return DriverStatement(
        sql=compiled.string,
        names=names,
        times=times,
        constants=constants,
        time=time_value(dialect.name),
        others=others,
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
    direct: str
    """``COPY`` straight into the table: for rows no attempt can have stored yet (`run_new`)."""
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
            direct=f"COPY {quote(table)} ({listed}) FROM STDIN",
            times=like.times,
            time=like.time,
        )

    def run(self, cursor: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        cursor.execute(self.create)
        with cursor.copy(self.copy) as copy:
            write, times, time = copy.write_row, self.times, self.time
            for position, row in enumerate(rows):
                if times:
                    row = _converted(row, times, time)
                write((position, *row))
        cursor.execute(self.move)

    def run_new(self, cursor: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        """Copy `rows` straight into the table, in order: no temporary table, no second
        insert. Only for rows that no earlier attempt can have stored (their keys were never
        sent before); a key already there fails the whole statement."""
        if not rows:
            return
        with cursor.copy(self.direct) as copy:
            write, times, time = copy.write_row, self.times, self.time
            for row in rows:
                write(_converted(row, times, time) if times else row)


Insert = DriverStatement | ValuesInsert | CopyInsert
"""A hot insert, either way."""
