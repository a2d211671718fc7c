"""The writer's driver-level path (`persistence.driver_sql`): what it stores, how it fails.

The writer passes plain tuples to the driver (and, on PostgreSQL, events and messages through
COPY), so what SQLAlchemy's types did per value is done here: these tests hold it to the same
result, with real sqlite files and a real PostgreSQL database.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.event import listens_for
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from persistence import Recorder, make_engine, upgrade_schema
from persistence.driver_sql import CopyInsert, driver_transaction, time_value
from persistence.models import Conversation, Message, RunEvent, ToolCallRow, UTCDateTime
from persistence.recorder import _is_transient
from persistence.records import CallRecord, ConversationNote, EventRecord, Record
from persistence.statements import driver_statements_for
from persistence.writer import BatchWriter, _event_row
from tests.persistence.support import drive_exchange, quiet_mediator

TIMES = [
    datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC),  # no microseconds: still written with them
    datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
    datetime(2026, 3, 1, 14, 30, 5, 7, tzinfo=timezone(timedelta(hours=2))),
    datetime(2026, 3, 1, 1, 0, 0, 999999, tzinfo=timezone(timedelta(hours=-9, minutes=-30))),
    datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),  # a three-digit year, zero-padded
]


@pytest.mark.parametrize("value", TIMES)
def test_sqlite_times_are_the_text_sqlalchemy_would_store(value: datetime) -> None:
    dialect = sqlite.dialect()
    process = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    assert time_value("sqlite")(value) == process(value)


@pytest.mark.parametrize("value", TIMES)
def test_postgresql_times_are_the_utc_instant(value: datetime) -> None:
    expected = UTCDateTime().process_bind_param(value, postgresql.dialect())
    converted = time_value("postgresql")(value)
    assert converted == expected
    assert converted is not None
    assert converted.utcoffset() == timedelta(0)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_naive_times_are_refused_as_before(dialect: str) -> None:
    with pytest.raises(ValueError, match="naive"):
        time_value(dialect)(datetime(2026, 1, 1))
    assert time_value(dialect)(None) is None


AWKWARD_TEXT = 'tab\there, new\nline, back\\slash, "quotes", \\N, émoji 🚀, \r end'


def _event(n: int, **given: Any) -> EventRecord:
    values: dict[str, Any] = {
        "event_uuid": f"{n:032x}", "exchange_id": "ex1", "seq": n, "session_id": "s1",
        "conversation_id": "thread_d", "run_id": "run_d", "type": "MessageDelta",
        "topic": "messageDelta", "state": "in_progress", "at": TIMES[n % len(TIMES)],
    } | given  # fmt: skip
    return EventRecord(**values)


def _batch() -> list[Record]:
    return [
        _event(0, type="StateChanged", topic="stateChanged", state="started",
               previous_state="ready", trigger="start"),
        _event(1, type="MessageSent", input=AWKWARD_TEXT, role="user"),
        _event(2, type="ActionRequired", input="[]", tool_name="f",
               calls=(CallRecord("call_1", "f", arguments='{"a": "\\t"}'),)),
        _event(3, type="ToolExecuted", tool_name="f", call_id="call_1", input="{}",
               output=AWKWARD_TEXT, is_error=False,
               calls=(CallRecord("call_1", "f", arguments="{}", output=AWKWARD_TEXT,
                                 is_error=False, duration_s=0.25),)),
        _event(4, type="UsageReported", output="usage", model="gpt-x", input_tokens=10,
               cached_input_tokens=2, output_tokens=5, reasoning_tokens=1, cost_usd=0.0125),
        *(_event(n, output=f"piece {n}") for n in range(5, 40)),
        _event(40, type="MessageRetrieved", output=AWKWARD_TEXT, role="assistant"),
    ]  # fmt: skip


@pytest.mark.parametrize("new", [False, True], ids=["written-again-safe", "new"])
def test_what_is_stored_reads_back_exactly_and_in_batch_order(db_engine: Engine, new: bool) -> None:
    """Either way of inserting (on PostgreSQL: through the temporary table, or a new batch's
    COPY straight into the tables) stores the same rows, in batch order."""
    batch = _batch()
    BatchWriter(db_engine).write(batch, new=new)
    events = [r for r in batch if isinstance(r, EventRecord)]
    with Session(db_engine) as session:
        stored = session.scalars(select(RunEvent).order_by(RunEvent.id)).all()
        messages = session.scalars(select(Message).order_by(Message.id)).all()
        call = session.scalars(select(ToolCallRow)).one()
    assert [e.event_uuid for e in stored] == [e.event_uuid for e in events]
    for row, event in zip(stored, events, strict=True):
        assert row.at == event.at
        assert row.at.tzinfo is not None
        for column in ("type", "state", "previous_state", "trigger", "input", "output",
                       "is_error", "model", "input_tokens", "cached_input_tokens",
                       "output_tokens", "reasoning_tokens", "cost_usd", "seq"):  # fmt: skip
            assert getattr(row, column) == getattr(event, column), column
    assert [(m.role, m.text, m.created_at) for m in messages] == [
        ("user", AWKWARD_TEXT, events[1].at),
        ("assistant", AWKWARD_TEXT, events[-1].at),
    ]
    # The executed row's upsert keeps the arguments the request stored.
    assert (call.arguments, call.output, call.is_error, call.duration_s) == (
        '{"a": "\\t"}', AWKWARD_TEXT, False, 0.25,
    )  # fmt: skip
    assert (call.requested_at, call.executed_at) == (events[2].at, events[3].at)


def test_a_new_batch_written_again_the_safe_way_adds_nothing(db_engine: Engine) -> None:
    """A new batch whose commit's answer was lost is written again as not new: nothing twice.
    Written again as new, PostgreSQL's straight COPY refuses it whole (never a duplicate)."""
    batch = _batch()
    writer = BatchWriter(db_engine)
    writer.write(batch, new=True)

    def counts() -> tuple[int, int]:
        with Session(db_engine) as session:
            return (
                session.scalar(select(func.count()).select_from(RunEvent)) or 0,
                session.scalar(select(func.count()).select_from(Message)) or 0,
            )

    stored = counts()
    assert stored == (len([r for r in batch if isinstance(r, EventRecord)]), 2)
    BatchWriter(db_engine).write(batch)
    assert counts() == stored
    if db_engine.dialect.name == "postgresql":
        with pytest.raises(IntegrityError) as refused:
            BatchWriter(db_engine).write(batch, new=True)
        assert not _is_transient(refused.value)
    else:  # sqlite has one way: its inserts ignore what is there
        BatchWriter(db_engine).write(batch, new=True)
    assert counts() == stored


async def test_a_record_refused_mid_batch_loses_and_duplicates_nothing(
    db_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A record with a naive time in the middle of a batch (events refuse one, so it is queued
    as a record): it fails the batch's transaction mid-way (mid-COPY on PostgreSQL), which is
    rolled back whole; the records are then written one by one and only it is dropped."""
    # The writer waits a second for its batch to fill: the three parts are queued by then
    # (if not, they are in more batches, and the one with the naive time fails the same way).
    recorder = Recorder(db_engine, batch_size=10_000, flush_interval_s=1.0).start()
    try:
        mediator = quiet_mediator("thread_m")
        await drive_exchange(mediator, conversation_id="thread_m", run_id="run_m1")
        recorder._inbox.append(
            _event(7, exchange_id="ex_naive", run_id="run_m1", conversation_id="thread_m",
                   session_id=mediator.session_id, at=datetime(2026, 1, 1))
        )  # fmt: skip
        await drive_exchange(mediator, conversation_id="thread_m", run_id="run_m2")
        with caplog.at_level(logging.ERROR, logger="persistence.recorder"):
            assert recorder.flush(60)
        assert recorder.stats.dropped == 1
    finally:
        recorder.close()
    with Session(db_engine) as session:
        rows = session.execute(select(RunEvent.run_id, RunEvent.seq).order_by(RunEvent.id)).all()
    assert len(rows) == 28
    assert len(set(rows)) == 28
    assert [run for run, _ in rows] == ["run_m1"] * 14 + ["run_m2"] * 14
    assert "MessageDelta seq" in caplog.text


def test_a_sqlite_allowing_few_parameters_per_statement_gets_smaller_statements(
    tmp_path: Any,
) -> None:
    """Rows go in as multi-row statements, sized to what the connection allows (999
    parameters before sqlite 3.32): here 100, so at most 4 events a statement."""
    engine = make_engine(f"sqlite:///{tmp_path}/few.db")
    upgrade_schema(engine)
    engine.dispose()

    @listens_for(engine, "connect")
    def _few_parameters(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 100)

    batch = _batch()
    BatchWriter(engine).write(batch)
    with Session(engine) as session:
        stored = session.scalars(select(RunEvent.event_uuid).order_by(RunEvent.id)).all()
    assert stored == [r.event_uuid for r in batch if isinstance(r, EventRecord)]
    engine.dispose()


def test_a_stored_conversation_is_only_touched_by_later_batches(tmp_path: Any) -> None:
    """Once a batch stored a conversation with its session, later batches of it neither insert
    its row nor claim its session again (two statements fewer per batch), and its row still
    ends with its first session and its latest time."""
    engine = make_engine(f"sqlite:///{tmp_path}/claimed.db")
    upgrade_schema(engine)
    engine.dispose()
    seen: list[str] = []

    @listens_for(engine, "connect")
    def _trace(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.set_trace_callback(seen.append)

    writer = BatchWriter(engine)
    writer.write([_event(0, type="StateChanged", topic="stateChanged", state="started")])
    assert any(s.startswith("INSERT INTO conversations") for s in seen)
    seen.clear()
    writer.write([_event(1, at=TIMES[2]), _event(2, at=TIMES[3], session_id="s2")])
    assert not any(s.startswith("INSERT INTO conversations") for s in seen), seen
    assert not any("SET session_id" in s for s in seen), seen
    assert any("SET updated_at" in s for s in seen), seen
    with Session(engine) as session:
        row = session.get_one(Conversation, "thread_d")
        assert (row.session_id, row.updated_at) == ("s1", max(TIMES[2], TIMES[3]))
        assert session.scalar(select(func.count()).select_from(RunEvent)) == 3
    engine.dispose()


def test_a_conversation_made_by_a_note_still_gets_its_session(db_engine: Engine) -> None:
    """A note stores a conversation without a session: it is not known as claimed, so its
    first event's session is still written into the row."""
    writer = BatchWriter(db_engine)
    writer.write([ConversationNote("thread_d", "asst_1", "responses", at=TIMES[0])])
    assert "thread_d" not in writer.memory.claimed
    writer.write([_event(1)])
    writer.write([_event(2, session_id="s2")])
    with Session(db_engine) as session:
        row = session.get_one(Conversation, "thread_d")
        assert (row.session_id, row.assistant_id) == ("s1", "asst_1")
    assert "thread_d" in writer.memory.claimed


@pytest.fixture
def pg_engine(pg_url: str) -> Any:
    engine = make_engine(pg_url)
    upgrade_schema(engine)
    yield engine
    engine.dispose()


def test_postgresql_refusing_a_value_mid_copy_is_a_refusal_not_an_outage(
    pg_engine: Engine,
) -> None:
    batch: list[Record] = [_event(n) for n in range(10)]
    batch.insert(5, _event(99, call_id="c" * 200))  # call_id is VARCHAR(128)
    with pytest.raises(DataError) as refused:
        BatchWriter(pg_engine).write(batch)
    assert not _is_transient(refused.value)
    with pg_engine.connect() as connection:  # nothing of the batch was kept
        assert connection.scalar(text("SELECT count(*) FROM run_events")) == 0


def test_postgresql_connection_lost_in_the_writer_is_an_outage(
    pg_engine: Engine, pg_admin: Engine
) -> None:
    """The driver's error, raised as SQLAlchemy's: the connection invalidated, so it is not
    pooled again and the recorder retries (rather than dropping the batch's records)."""
    insert = driver_statements_for(pg_engine.dialect).insert_events
    assert isinstance(insert, CopyInsert)
    # The driver's error is raised as SQLAlchemy's when it leaves the transaction.
    with pytest.raises(OperationalError) as lost:  # noqa: PT012
        with driver_transaction(pg_engine, "a test batch") as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
            with pg_admin.connect() as admin:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            insert.run(cursor, [_event_row(_event(1))])
    assert lost.value.connection_invalidated
    assert _is_transient(lost.value)
    assert pg_engine.pool.checkedout() == 0  # given back, and (invalidated) never pooled again
    BatchWriter(pg_engine).write([_event(2)])  # the pool gives a new connection
    with pg_engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM run_events")) == 1
