"""The exchange journal's group commit (issue 16): every fact durable before its call returns,
concurrent facts sharing transactions, a database that does not answer still bounded."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, Table, event, func, select
from sqlalchemy.engine import make_url

from mediator.journal import JournalCall, QueuedJournal
from persistence import DatabaseJournal, make_engine
from persistence.driver_sql import compile_for_driver, driver_transaction
from persistence.journal_writer import JournalWriter, Rows
from persistence.models import JournalEntry
from proxies.journaling import journaled
from tests.persistence.test_blackholed_catalog import LoopTicker
from tools.types import ToolCall, ToolResult

DEADLINE_S = 60.0  # every wait's bound: generous for a busy machine, never a fixed sleep


class GatedCommit:
    """A commit that records its batches and, while `gate` is clear, holds the writer inside
    the first one (so that what comes meanwhile has to queue)."""

    def __init__(self) -> None:
        self.batches: list[Rows] = []
        self.entered = threading.Event()
        self.gate = threading.Event()

    def __call__(self, rows: Rows) -> None:
        self.entered.set()
        assert self.gate.wait(DEADLINE_S), "the test never opened the gate"
        self.batches.append(rows)


def _done(future: Future[None]) -> None:
    future.result(timeout=DEADLINE_S)


def test_a_fact_is_not_done_before_its_commit() -> None:
    commit = GatedCommit()
    writer = JournalWriter(commit)
    future = writer.submit([{"n": 1}])
    assert commit.entered.wait(DEADLINE_S)
    assert not future.done()  # inside the commit: the caller still waits
    commit.gate.set()
    _done(future)
    assert commit.batches == [[{"n": 1}]]


def test_facts_waiting_during_a_commit_share_the_next_one() -> None:
    commit = GatedCommit()
    writer = JournalWriter(commit)
    first = writer.submit([{"n": 0}])
    assert commit.entered.wait(DEADLINE_S)
    waiting = [writer.submit([{"n": n}]) for n in range(1, 201)]
    commit.gate.set()
    for future in [first, *waiting]:
        _done(future)
    assert writer.commits == 2  # 201 facts: the first alone, then every one that waited
    assert [row["n"] for batch in commit.batches for row in batch] == list(range(201))


def test_a_fact_given_up_before_it_was_taken_is_never_written() -> None:
    commit = GatedCommit()
    writer = JournalWriter(commit)
    first = writer.submit([{"n": 1}])
    assert commit.entered.wait(DEADLINE_S)
    abandoned = writer.submit([{"n": 2}])
    kept = writer.submit([{"n": 3}])
    assert abandoned.cancel()
    commit.gate.set()
    _done(first)
    _done(kept)
    assert commit.batches == [[{"n": 1}], [{"n": 3}]]


def test_a_failed_commit_fails_its_facts_and_the_writer_goes_on() -> None:
    outcomes = iter([ConnectionError("database away"), None])

    def commit(rows: Rows) -> None:
        failure = next(outcomes)
        if failure is not None:
            raise failure

    writer = JournalWriter(commit)
    with pytest.raises(ConnectionError):
        writer.write([{"n": 1}])
    writer.write([{"n": 2}])  # raises nothing: committed
    assert writer.commits == 1


def _rows_of(engine: Engine, exchange_id: str) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(JournalEntry.kind)
                .where(JournalEntry.exchange_id == exchange_id)
                .order_by(JournalEntry.id)
            ).scalars()
        )


def test_a_fact_is_durable_when_the_call_returns(db_engine: Engine) -> None:
    journal = DatabaseJournal(db_engine)
    other = make_engine(db_engine.url)  # another pool: sees only what was committed
    try:
        call = ToolCall("call_1", "get_stock_price", '{"symbol": "AAPL"}')
        journal.exchange_started("conv_1", "ex_1", "asst_1", "Price of AAPL?")
        assert _rows_of(other, "ex_1") == ["exchange"]
        journal.calls_started("ex_1", [call])
        assert _rows_of(other, "ex_1") == ["exchange", "call_started"]
        journal.calls_finished("ex_1", [ToolResult(call.id, call.name, '{"price": 1}')])
        journal.exchange_ended("ex_1", "completed", "AAPL is at 1.")
        assert _rows_of(other, "ex_1") == ["exchange", "call_started", "call_finished", "ended"]
        known = DatabaseJournal(other).exchange("ex_1")
        assert known is not None
        assert known.conversation_id == "conv_1"
        assert known.ended == "completed"
        assert known.calls[0].output == '{"price": 1}'
    finally:
        other.dispose()


async def test_concurrent_conversations_share_commits_and_lose_nothing(
    db_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    journal = DatabaseJournal(db_engine)
    assert isinstance(journal, QueuedJournal)
    other = make_engine(db_engine.url)
    conversations = 300

    async def exchange(number: int) -> str:
        exchange_id = f"ex_{number}_{uuid.uuid4().hex[:8]}"
        call = ToolCall(f"call_{number}", "get_stock_price", "{}")
        await journaled(journal.exchange_started, f"conv_{number}", exchange_id, "asst", "hi")
        # Durable when the await returns: another connection sees it at once.
        assert await asyncio.to_thread(_rows_of, other, exchange_id) == ["exchange"]
        await journaled(journal.calls_started, exchange_id, [call])
        await journaled(journal.calls_finished, exchange_id, [ToolResult(call.id, "x", "1")])
        await journaled(journal.exchange_ended, exchange_id, "completed", "done")
        return exchange_id

    try:
        with caplog.at_level(logging.WARNING, logger="proxies.journaling"):
            exchange_ids = await asyncio.wait_for(
                asyncio.gather(*(exchange(n) for n in range(conversations))), DEADLINE_S * 3
            )
        assert not caplog.records  # no fact skipped for want of time
        with other.connect() as connection:
            count = connection.execute(select(func.count()).select_from(JournalEntry)).scalar()
        assert count == 4 * conversations
        assert _rows_of(other, exchange_ids[-1]) == [
            "exchange",
            "call_started",
            "call_finished",
            "ended",
        ]
        # 1,200 facts written by 300 conversations at once: far fewer transactions.
        assert journal.commits < 4 * conversations / 2, journal.commits
    finally:
        other.dispose()


@contextlib.contextmanager
def blackholed_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


async def test_a_blackholed_database_never_holds_a_conversation(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with blackholed_port() as port:
        url = make_url(pg_url).set(host="127.0.0.1", port=port)
        engine = make_engine(url.render_as_string(hide_password=False))
        journal = DatabaseJournal(engine)
        try:
            with (
                caplog.at_level(logging.WARNING, logger="proxies.journaling"),
                LoopTicker() as ticker,
            ):
                results = await asyncio.wait_for(
                    asyncio.gather(
                        *(
                            journaled(journal.exchange_started, f"c{n}", f"e{n}", "a", "hi")
                            for n in range(20)
                        )
                    ),
                    DEADLINE_S,
                )
        finally:
            engine.dispose()
    assert results == [None] * 20
    assert len(caplog.records) == 20  # each conversation was told, and went on
    assert "going on without it" in caplog.records[0].getMessage()
    assert ticker.longest_s < 1.0, f"the event loop stalled {ticker.longest_s:.3f} s"


def test_a_live_exchange_is_read_back_without_a_query(db_engine: Engine) -> None:
    journal = DatabaseJournal(db_engine)
    call = ToolCall("call_1", "get_stock_price", "{}")
    journal.exchange_started("conv_1", "ex_1", "asst_1", "hi")
    journal.calls_started("ex_1", [call])
    statements: list[str] = []
    event.listen(db_engine, "before_cursor_execute", _collect(statements))
    known = journal.exchange("ex_1")
    queued = journal.submit(journal.exchange, "ex_1")
    assert statements == []
    assert queued is not None
    assert queued.result(timeout=0) == known
    assert known is not None
    assert known.calls == (JournalCall("call_1", "get_stock_price", "{}"),)
    journal.exchange_ended("ex_1", "completed", "done")
    ended = journal.exchange("ex_1")  # over: read from the database again
    assert statements != []
    assert ended is not None
    assert ended.ended == "completed"


def test_a_conversation_read_for_resuming_is_read_from_the_database(db_engine: Engine) -> None:
    """An exchange begun here, taken over by another process (it detached): once this
    process reads the conversation to resume it, it sees what the other one wrote."""
    here = DatabaseJournal(db_engine)
    elsewhere_engine = make_engine(db_engine.url)
    elsewhere = DatabaseJournal(elsewhere_engine)
    try:
        call = ToolCall("call_1", "place_order", "{}")
        here.exchange_started("conv_1", "ex_1", "asst_1", "buy")
        elsewhere.calls_started("ex_1", [call])
        elsewhere.calls_finished("ex_1", [ToolResult(call.id, call.name, "ordered")])
        last = here.last_exchange("conv_1")
        assert last is not None
        assert last.call("call_1") == JournalCall("call_1", "place_order", "{}", "ordered")
        again = here.exchange("ex_1")
        assert again is not None
        assert again.call("call_1") == last.call("call_1")
    finally:
        elsewhere_engine.dispose()


def _collect(statements: list[str]) -> Callable[..., None]:
    def collect(connection: object, cursor: object, statement: str, *rest: object) -> None:
        statements.append(statement)

    return collect


def test_rows_written_through_the_driver_read_back_as_written(db_engine: Engine) -> None:
    table: Table = JournalEntry.__table__  # type: ignore[assignment]
    at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    row = {
        "at": at,
        "exchange_id": "ex_é",
        "conversation_id": "conv_1",
        "kind": "call_finished",
        "call_id": "call_1",
        "name": "get_stock_price",
        "text": '{"price": 1} ✓',
        "detail": None,
        "is_error": True,
    }
    columns = tuple(column.name for column in table.columns if not column.primary_key)
    insert = compile_for_driver(table.insert(), db_engine.dialect, columns)
    with driver_transaction(db_engine, "journal rows") as cursor:
        insert.run_dicts(cursor, [row, {**row, "call_id": "call_2", "is_error": None}])
    with db_engine.connect() as connection:
        read = connection.execute(select(table).order_by(table.c.id)).mappings().all()
    assert [{key: value for key, value in r.items() if key != "id"} for r in read] == [
        row,
        {**row, "call_id": "call_2", "is_error": None},
    ]
