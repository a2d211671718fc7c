"""Issue 10: a database away for long costs no memory and loses nothing, SIGTERM included.

While the database fails and more records wait than the recorder may hold, they go to a
local spill file and are stored from it once the database is back. A recorder closing (or a
process signalled) while the database is away leaves its file behind, and the next recorder
on that database stores it. A database unreachable at start is waited for. A SIGTERM with a
large backlog and the database up stores every event: there is no cap.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from persistence import Recorder, make_engine, upgrade_schema
from persistence.models import RunEvent
from persistence.records import ConversationNote
from persistence.spill import SpillFile, orphaned_spills
from tests.persistence.support import drive_exchange, quiet_mediator, wait_until
from tests.persistence.tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
EVENTS_PER_EXCHANGE = 14

# The SIGTERM tests run a child process that publishes and stores 60,000 events: generous.
pytestmark = pytest.mark.timeout(300)


def stored_events(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(RunEvent)) or 0


def spill_files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.spill"))


class Vanishing:
    """A sqlite file that can vanish (its path becomes a folder: every connection fails)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "events.db"
        self.url = f"sqlite:///{self.path}"
        self._kept = folder / "kept.db"

    def vanish(self, engine: Engine) -> None:
        if self.path.exists():
            os.replace(self.path, self._kept)
        self.path.mkdir()
        engine.dispose()  # pooled connections would still reach the moved file

    def come_back(self) -> None:
        self.path.rmdir()
        if self._kept.exists():
            os.replace(self._kept, self.path)


async def publish(exchanges: int, prefix: str = "run") -> None:
    mediator = quiet_mediator()
    for n in range(exchanges):
        await drive_exchange(mediator, conversation_id="thread_s", run_id=f"{prefix}_{n}")


async def test_a_long_outage_spills_to_a_file_and_everything_is_stored_after(
    tmp_path: Path,
) -> None:
    db = Vanishing(tmp_path)
    engine = make_engine(db.url)
    recorder = Recorder(
        engine, flush_interval_s=0.0, retry_backoff_max_s=0.05, max_pending=100
    ).start()
    try:
        db.vanish(engine)
        await publish(30)
        total = 30 * EVENTS_PER_EXCHANGE
        # Beyond 100 records in memory, everything waits in the file instead.
        await wait_until(
            lambda: recorder.stats.spilled == recorder.stats.pending == total,
            within_s=60,
            what="every waiting record spilled",
        )
        assert len(spill_files(recorder.spill_folder)) == 1
        db.come_back()
        assert recorder.flush(60), recorder.stats
        assert recorder.stats.spilled == 0
        assert spill_files(recorder.spill_folder) == []
        assert stored_events(engine) == total
        await publish(1, prefix="after")  # back to memory, straight to the database
        assert recorder.flush(60), recorder.stats
        assert stored_events(engine) == total + EVENTS_PER_EXCHANGE
    finally:
        recorder.close()
        engine.dispose()


async def test_closing_while_away_leaves_a_file_the_next_recorder_stores(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = Vanishing(tmp_path)
    engine = make_engine(db.url)
    first = Recorder(engine, flush_interval_s=0.0, retry_backoff_max_s=0.05).start()
    db.vanish(engine)
    await publish(5)
    assert first.close(stall_s=0.5) is False
    assert "closing with 70 records not stored" in caplog.text
    assert len(spill_files(first.spill_folder)) == 1

    db.come_back()
    second = Recorder(engine, flush_interval_s=0.0).start()
    try:
        assert second.flush(60), second.stats
        await wait_until(
            lambda: not spill_files(second.spill_folder), within_s=60, what="file removed"
        )
        assert stored_events(engine) == 5 * EVENTS_PER_EXCHANGE
    finally:
        second.close()
        engine.dispose()


async def test_a_database_away_at_start_is_waited_for(tmp_path: Path) -> None:
    db = Vanishing(tmp_path)
    engine = make_engine(db.url)
    db.vanish(engine)
    recorder = Recorder(engine, flush_interval_s=0.0, retry_backoff_max_s=0.05).start()
    try:
        assert recorder.running
        await publish(2)  # a conversation held while the database is away
        await wait_until(lambda: recorder.stats.retries >= 2, within_s=60, what="retries")
        db.come_back()
        assert recorder.flush(60), recorder.stats
        assert stored_events(engine) == 2 * EVENTS_PER_EXCHANGE
    finally:
        recorder.close()
        engine.dispose()


def run_child(db: str, exchanges: int, spill_dir: Path, stall_s: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.persistence.record_child", "--db", db]
        + ["--exchanges", str(exchanges), "--spill-dir", str(spill_dir), "--stall", str(stall_s)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )


def stop(child: subprocess.Popen[str]) -> None:
    if child.poll() is None:
        child.kill()
        child.wait(timeout=60)
    if child.stdout is not None:
        child.stdout.close()


def published(child: subprocess.Popen[str]) -> int:
    assert child.stdout is not None
    line = child.stdout.readline()
    assert line.startswith("PUBLISHED "), line
    return int(line.split()[1])


def test_sigterm_with_a_large_backlog_stores_every_event(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/events.db"
    exchanges = 60_000 // EVENTS_PER_EXCHANGE + 1
    child = run_child(db, exchanges, tmp_path / "spill", stall_s=5.0)
    try:
        backlog = published(child)
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=300) == -signal.SIGTERM
    finally:
        stop(child)
    assert backlog > 0, "the signal should find events still queued"
    engine = make_engine(db)
    try:
        assert stored_events(engine) == exchanges * EVENTS_PER_EXCHANGE
    finally:
        engine.dispose()
    assert spill_files(tmp_path / "spill") == []


@pytest.fixture
def pg_proxy(pg_url: str) -> Iterator[tuple[TcpProxy, str]]:
    upgrade_schema(direct := make_engine(pg_url))
    direct.dispose()
    target = make_url(pg_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    proxy.start()
    yield proxy, target.set(port=proxy.port).render_as_string(hide_password=False)
    proxy.stop()


def test_sigterm_with_the_database_away_spills_and_the_next_process_stores_it(
    tmp_path: Path, pg_url: str, pg_proxy: tuple[TcpProxy, str]
) -> None:
    proxy, through_proxy = pg_proxy
    proxy.stop()  # the database is away for the whole life of the child
    child = run_child(through_proxy, 50, tmp_path / "spill", stall_s=1.0)
    try:
        assert published(child) > 0  # all still waiting: the database was never there
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=120) == -signal.SIGTERM
    finally:
        stop(child)
    assert len(spill_files(tmp_path / "spill")) == 1

    engine = make_engine(pg_url)  # the database is back; another process starts recording
    recorder = Recorder(engine, spill_dir=tmp_path / "spill", auto_migrate=False)
    recorder._spill_folder = next((tmp_path / "spill").iterdir())  # the child's URL named it
    try:
        recorder.start()
        assert recorder.flush(60), recorder.stats
        assert stored_events(engine) == 50 * EVENTS_PER_EXCHANGE
        assert spill_files(tmp_path / "spill") == []
    finally:
        recorder.close()
        engine.dispose()


def test_a_frame_cut_short_by_a_crash_is_ignored(tmp_path: Path) -> None:
    spill = SpillFile.create(tmp_path)
    notes = [ConversationNote(f"thread_{n}", "asst", "responses") for n in range(3)]
    spill.append(notes[:2])
    spill.append(notes[2:])
    spill.close(delete=False)
    with spill.path.open("r+b") as file:  # the process died half-way through the last frame
        file.truncate(spill.path.stat().st_size - 5)

    (adopted,) = orphaned_spills(tmp_path)
    assert adopted.unread == 2
    frame = adopted.peek()
    assert frame is not None
    assert frame[0] == notes[:2]
    adopted.consumed(frame[1], 2)
    assert adopted.peek() is None
    assert adopted.read_offset == adopted.write_offset
    adopted.close(delete=True)
    assert list(tmp_path.iterdir()) == []
