"""A database that is locked or away for seconds: conversations keep their pace, nothing is lost."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from emulator import EmulatorServer
from persistence import Recorder, make_engine, upgrade_schema
from tests.persistence.support import QUESTIONS, EventLog, open_chat, session_of, wait_until
from tests.persistence.tcp_proxy import TcpProxy
from tests.persistence.test_recording import expected_per_run, recorded_per_run

OUTAGE_S = 3.0
"""How long the database stays unusable (the scenario itself, not a synchronisation)."""
PACE_S = 2.0
"""A conversation must finish within this during the outage (it takes ~0.1 s normally)."""


async def converse_through_outage(
    emulator: EmulatorServer,
    engine: Engine,
    cut: Callable[[], None],
    restore: Callable[[], None],
    *,
    expect_retries: bool,
) -> None:
    """Converse, cut the database, converse again on time, restore, check every event."""
    recorder = Recorder(engine, flush_interval_s=0.01, retry_backoff_max_s=0.3).start()
    log = EventLog().start()
    user = open_chat(emulator.base_url)
    try:
        await user.ask(QUESTIONS[2])
        assert recorder.flush(10)
        cut()
        cut_at = time.monotonic()
        try:
            started = time.monotonic()
            await user.ask(QUESTIONS[0])
            assert time.monotonic() - started < PACE_S
            stats = recorder.stats
            assert stats.pending > 0, "the events should be waiting in memory"
            if expect_retries:
                await wait_until(lambda: recorder.stats.retries >= 2, within_s=10, what="retries")
            await asyncio.sleep(max(0.0, OUTAGE_S - (time.monotonic() - cut_at)))
        finally:
            restore()
        assert recorder.flush(20), recorder.stats
    finally:
        log.stop()
        await user.aclose()
        recorder.close()
    assert recorder.stats.dropped == 0
    session_id = session_of(user)
    assert recorded_per_run(engine, session_id) == expected_per_run(log.of_session(session_id))


async def test_sqlite_file_locked_for_seconds(emulator: EmulatorServer, sqlite_url: str) -> None:
    engine = make_engine(sqlite_url, busy_timeout_ms=500)
    upgrade_schema(engine)
    path = make_url(sqlite_url).database
    assert path is not None
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)

    def cut() -> None:
        holder.execute("BEGIN EXCLUSIVE")

    def restore() -> None:
        holder.execute("COMMIT")

    try:
        await converse_through_outage(emulator, engine, cut, restore, expect_retries=True)
    finally:
        holder.close()
        engine.dispose()


@pytest.fixture
def proxy(pg_url: str) -> Iterator[TcpProxy]:
    target = make_url(pg_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    proxy.start()
    yield proxy
    proxy.stop()


async def test_postgresql_unreachable_for_seconds(
    emulator: EmulatorServer, pg_url: str, proxy: TcpProxy
) -> None:
    upgrade_schema(direct := make_engine(pg_url))
    direct.dispose()
    engine = make_engine(make_url(pg_url).set(host="127.0.0.1", port=proxy.port))
    try:
        await converse_through_outage(
            emulator, engine, proxy.stop, proxy.start, expect_retries=True
        )
    finally:
        engine.dispose()


async def test_postgresql_tables_locked_for_seconds(emulator: EmulatorServer, pg_url: str) -> None:
    engine = make_engine(pg_url)
    upgrade_schema(engine)
    locker = engine.connect()

    def cut() -> None:
        locker.execute(text("LOCK TABLE run_events IN ACCESS EXCLUSIVE MODE"))

    def restore() -> None:
        locker.commit()

    try:
        await converse_through_outage(emulator, engine, cut, restore, expect_retries=False)
    finally:
        locker.close()
        engine.dispose()
