"""The recorder's contract, with real events from a real mediator (no HTTP)."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mediator import ExchangeCancelledError, bus
from mediator.events import MessageDelta
from mediator.script import State
from persistence import (
    AssistantRecord,
    PersistenceError,
    Recorder,
    install_signal_handlers,
    make_engine,
    start_recording,
)
from persistence.models import Assistant, Conversation, Message, Run, RunEvent, ToolCallRow
from persistence.recorder import _is_transient
from persistence.writer import BatchWriter
from tests.persistence.support import drive_exchange, publish_binding, quiet_mediator

EVENTS_PER_EXCHANGE = 14


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Conversation, Run, Message, RunEvent, ToolCallRow)
        }


@pytest.fixture
def recorder(db_engine: Engine) -> Iterator[Recorder]:
    rec = Recorder(db_engine, flush_interval_s=0.01).start()
    yield rec
    rec.close()


async def test_writing_the_same_batch_again_stores_nothing_twice(db_engine: Engine) -> None:
    """A retry after a commit whose acknowledgement was lost must not duplicate anything."""
    captured: list[Any] = []
    recorder = Recorder(db_engine, batch_size=10_000, flush_interval_s=0.01)
    original = BatchWriter.write

    def keep(self: BatchWriter, batch: Any, **options: Any) -> None:
        captured.append(list(batch))
        original(self, batch, **options)

    recorder._writer.write = keep.__get__(recorder._writer)  # type: ignore[method-assign]
    recorder.start()
    mediator = quiet_mediator()
    for n in range(3):
        await drive_exchange(mediator, conversation_id="thread_1", run_id=f"run_{n}")
    assert recorder.close()
    before = counts(db_engine)
    assert before["run_events"] == 3 * EVENTS_PER_EXCHANGE
    replay = BatchWriter(db_engine)  # a new writer knows nothing: the worst case
    for batch in captured:
        replay.write(batch)
        replay.write(batch[: len(batch) // 2])
    assert counts(db_engine) == before


async def test_event_keys_are_unique_and_sort_in_the_order_they_were_made(
    recorder: Recorder, db_engine: Engine
) -> None:
    """Keys start with the time, so an index of them grows at its end (not at random)."""
    mediator = quiet_mediator()
    await drive_exchange(mediator, conversation_id="thread_keys", run_id="run_k1")
    assert recorder.flush(10)
    made = time.time_ns() // 1_000_000
    deadline = time.monotonic() + 5
    while time.time_ns() // 1_000_000 == made:  # the next keys are made a millisecond later
        assert time.monotonic() < deadline
    await drive_exchange(mediator, conversation_id="thread_keys", run_id="run_k2")
    assert recorder.flush(10)
    with Session(db_engine) as session:
        rows = session.execute(select(RunEvent.run_id, RunEvent.event_uuid)).all()
    first = [key for run, key in rows if run == "run_k1"]
    second = [key for run, key in rows if run == "run_k2"]
    keys = first + second
    assert len(first) == len(second) == EVENTS_PER_EXCHANGE
    assert len(set(keys)) == len(keys)
    assert all(len(key) == 32 and int(key, 16) >= 0 for key in keys)
    assert max(first) < min(second)
    assert abs(int(keys[0][:12], 16) - made) < 60_000  # milliseconds since the epoch


async def test_events_before_the_conversation_exists_join_it_across_batches(
    db_engine: Engine,
) -> None:
    recorder = Recorder(db_engine, batch_size=1, flush_interval_s=0.0).start()
    mediator = quiet_mediator()
    mediator.set_user_message("first, before the thread exists")
    assert recorder.flush(5)  # the first events are stored with no conversation and no run
    with Session(db_engine) as session:
        assert session.scalars(select(RunEvent.conversation_id)).all() == [None, None]
    mediator.bind_conversation("thread_late")
    mediator.started("run_late")
    mediator.cancelled(ExchangeCancelledError("user gave up"))
    assert recorder.close()
    with Session(db_engine) as session:
        rows = session.execute(
            select(RunEvent.conversation_id, RunEvent.run_id, RunEvent.seq).order_by(RunEvent.seq)
        ).all()
        run = session.get(Run, "run_late")
        message = session.scalars(select(Message)).one()
    assert rows == [("thread_late", "run_late", seq) for seq in range(len(rows))]
    assert (message.conversation_id, message.run_id) == ("thread_late", "run_late")
    assert run is not None
    assert (run.status, run.error_message) == ("cancelled", "user gave up")


async def test_listener_only_enqueues_even_when_the_database_is_gone(tmp_path: Any) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/gone.db")
    recorder = Recorder(engine, flush_interval_s=0.0, retry_backoff_max_s=0.05).start()
    (tmp_path / "gone.db").chmod(0o400)
    os.replace(tmp_path / "gone.db", tmp_path / "moved.db")
    (tmp_path / "gone.db").mkdir()  # the path is now a folder: every connection fails
    engine.dispose()
    mediator = quiet_mediator()
    started = time.perf_counter()
    for n in range(20):
        await drive_exchange(mediator, conversation_id="thread_g", run_id=f"run_{n}")
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0  # 280 events, the database refusing every connection meanwhile
    assert not recorder.flush(0.2)
    assert recorder.stats.pending == 20 * EVENTS_PER_EXCHANGE
    assert recorder.stats.retries >= 1
    assert recorder.close(timeout_s=0.2) is False
    assert recorder.close() is False  # idempotent: the first result, at once


async def test_a_record_refused_for_good_is_dropped_and_the_rest_stored(
    db_engine: Engine, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    original = recorder._writer.write

    def refuse_poison(batch: Any, **options: Any) -> None:
        if any(getattr(r, "output", None) == "poison" for r in batch):
            raise IntegrityError("INSERT ...", {}, Exception("refused"))
        original(batch, **options)

    recorder._writer.write = refuse_poison  # type: ignore[method-assign]
    mediator = quiet_mediator("thread_p")
    await drive_exchange(mediator, conversation_id="thread_p", run_id="run_p")
    bus.publish(
        MessageDelta(
            conversation_id="thread_p", run_id="run_p", state=State.COMPLETED,
            session_id=mediator.session_id, delta="poison",
        )
    )  # fmt: skip
    await drive_exchange(mediator, conversation_id="thread_p", run_id="run_q")
    with caplog.at_level(logging.ERROR, logger="persistence.recorder"):
        assert recorder.flush(5)
    assert recorder.stats.dropped == 1
    assert counts(recorder.engine)["run_events"] == 2 * EVENTS_PER_EXCHANGE
    assert "MessageDelta seq" in caplog.text
    assert "poison" not in caplog.text


async def test_streamed_pieces_waiting_together_are_stored_as_one_row(db_engine: Engine) -> None:
    """A reply streamed a token at a time is not a row per token: consecutive pieces of an
    exchange that wait together become one row, their text joined; nothing else merges."""
    recorder = Recorder(db_engine, flush_interval_s=0.0)
    original = recorder._writer.write
    entered, gate = threading.Event(), threading.Event()

    def gated(batch: Any, **options: Any) -> None:
        entered.set()
        assert gate.wait(30)
        original(batch, **options)

    recorder._writer.write = gated  # type: ignore[method-assign]
    recorder.start()
    try:
        mediator = quiet_mediator("thread_s")
        mediator.set_user_message("Tell me a story")
        assert entered.wait(30)  # the writer holds the first batch: what follows waits
        mediator.bind_conversation("thread_s")
        mediator.started("run_s")
        for piece in ("Once ", "upon ", "a ", "time"):
            mediator.message_delta(piece)
        mediator.heartbeat("in_progress")  # not a piece: the next pieces are a row of their own
        for piece in (", the ", "end."):
            mediator.message_delta(piece)
        mediator.assistant_message_retrieved("Once upon a time, the end.")
        gate.set()
        assert recorder.flush(30)
        stats = recorder.stats
    finally:
        gate.set()
        recorder.close()
    with Session(db_engine) as session:
        rows = session.execute(
            select(RunEvent.type, RunEvent.output, RunEvent.seq).order_by(RunEvent.seq)
        ).all()
    pieces = [(output, seq) for kind, output, seq in rows if kind == "MessageDelta"]
    assert [output for output, _ in pieces] == ["Once upon a time", ", the end."]
    seqs = [row.seq for row in rows]
    assert seqs == sorted(set(seqs))  # the first piece's place; the others' are left out
    assert rows[-1].type == "MessageRetrieved"
    assert stats.enqueued == stats.stored == len(rows)


async def test_batches_are_new_until_an_attempt_fails_and_again_once_all_are_stored(
    db_engine: Engine,
) -> None:
    """A batch is written as new (no record of it ever sent) until a write fails: that one may
    have committed with its answer lost, so from then on batches are written the safe way,
    until everything waiting is stored."""
    from sqlalchemy.exc import OperationalError

    recorder = Recorder(db_engine, batch_size=1, flush_interval_s=0.0, retry_backoff_max_s=0.05)
    original = recorder._writer.write
    seen: list[tuple[str, bool]] = []

    def flaky(batch: Any, *, new: bool = False) -> None:
        seen.append((batch[0].type, new))
        if len(seen) == 2:  # the second write: stored, then its answer lost
            original(batch, new=new)
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))
        original(batch, new=new)

    recorder._writer.write = flaky  # type: ignore[method-assign]
    recorder.start()
    try:
        mediator = quiet_mediator("thread_f")
        await drive_exchange(mediator, conversation_id="thread_f", run_id="run_f1")
        assert recorder.flush(30)
        after_recovery = len(seen)
        await drive_exchange(mediator, conversation_id="thread_f", run_id="run_f2")
        assert recorder.flush(30)
    finally:
        recorder.close()
    flags = [new for _, new in seen]
    assert flags[:3] == [True, True, False]  # the failed one, then its retry the safe way
    assert flags[after_recovery:] == [True] * (len(seen) - after_recovery)
    assert counts(db_engine)["run_events"] == 2 * EVENTS_PER_EXCHANGE  # nothing twice


def test_errors_worth_retrying() -> None:
    from sqlalchemy.exc import DataError, OperationalError

    assert _is_transient(OperationalError("x", {}, Exception("database is locked")))
    assert not _is_transient(DataError("x", {}, Exception("value too long")))
    assert not _is_transient(IntegrityError("x", {}, Exception("duplicate")))


async def test_assistants_and_conversation_notes_are_stored(
    db_engine: Engine, recorder: Recorder
) -> None:
    assistant = AssistantRecord(
        id="asst_1", name="Stocks", model="gpt-4o-mini", backend="responses",
        instructions="Help.", tools=({"type": "function", "name": "get_stock_price"},),
    )  # fmt: skip
    recorder.save_assistant(assistant)
    recorder.save_assistant(dataclasses.replace(assistant, name="Stocks v2"))
    publish_binding("thread_n", assistant_id="asst_1", backend="responses")
    await drive_exchange(quiet_mediator("thread_n"), conversation_id="thread_n", run_id="run_n")
    assert recorder.flush(5)
    with Session(db_engine) as session:
        stored = session.get(Assistant, "asst_1")
        conversation = session.get(Conversation, "thread_n")
    assert stored is not None
    assert stored.name == "Stocks v2"
    assert stored.tools == [{"type": "function", "name": "get_stock_price"}]
    assert conversation is not None
    assert (conversation.assistant_id, conversation.backend) == ("asst_1", "responses")


def test_start_recording_gives_one_recorder_per_process(sqlite_url: str) -> None:
    first = start_recording(sqlite_url, install_signals=False)
    try:
        assert start_recording(sqlite_url, install_signals=False) is first
        assert first.start() is first  # starting again is a no-op
    finally:
        assert first.close()
    with pytest.raises(PersistenceError, match="closed"):
        first.start()
    second = start_recording(sqlite_url, install_signals=False)
    assert second is not first
    second.close()


async def test_signal_handler_flushes_then_chains_to_the_previous_one(
    db_engine: Engine, recorder: Recorder
) -> None:
    chained: list[int] = []

    def previous(signum: int, frame: FrameType | None) -> None:
        chained.append(signum)

    old = signal.signal(signal.SIGUSR1, previous)
    try:
        install_signal_handlers(recorder, (signal.SIGUSR1,))
        await drive_exchange(quiet_mediator(), conversation_id="thread_s", run_id="run_s")
        os.kill(os.getpid(), signal.SIGUSR1)  # handled in this (main) thread before returning
        assert chained == [signal.SIGUSR1]
        assert counts(db_engine)["run_events"] == EVENTS_PER_EXCHANGE  # flushed first
    finally:
        signal.signal(signal.SIGUSR1, old)


def test_signal_handlers_only_from_the_main_thread(recorder: Recorder) -> None:
    errors: list[BaseException] = []

    def install() -> None:
        try:
            install_signal_handlers(recorder)
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=install)
    thread.start()
    thread.join(5)
    assert len(errors) == 1
    assert "main thread" in str(errors[0])


async def test_a_tiny_writer_memory_and_a_late_start_still_store_everything_right(
    db_engine: Engine,
) -> None:
    """Forgotten attachments are looked up again; a run first seen mid-way gets its row."""
    mediator = quiet_mediator()
    mediator.set_user_message("published before the recorder started")
    mediator.bind_conversation("thread_m")
    mediator.started("run_m0")
    recorder = Recorder(db_engine, batch_size=1, flush_interval_s=0.0)
    memory = recorder._writer.memory
    memory.conversations.size = memory.runs.size = memory.run_starts.size = 1
    recorder.start()
    mediator.heartbeat("in_progress")  # the first event this recorder sees: mid-run
    mediator.assistant_message_retrieved("late but recorded")
    other = quiet_mediator()
    for n in range(1, 4):
        await drive_exchange(mediator, conversation_id="thread_m", run_id=f"run_m{n}")
        await drive_exchange(other, conversation_id="thread_o", run_id=f"run_o{n}")
    assert recorder.close()
    with Session(db_engine) as session:
        runs = {r.id: r for r in session.scalars(select(Run))}
        orphans = session.scalar(
            select(func.count()).where(
                RunEvent.run_id.is_(None) | RunEvent.conversation_id.is_(None)
            )
        )
    assert orphans == 0
    assert runs["run_m0"].status == "completed"
    for name, run in runs.items():
        assert run.ended_at is not None, name
        assert run.duration_s is not None, name
        assert run.duration_s == pytest.approx((run.ended_at - run.started_at).total_seconds())


async def test_a_note_before_any_event_gets_the_session_later(db_engine: Engine) -> None:
    recorder = Recorder(db_engine, batch_size=1, flush_interval_s=0.0).start()
    publish_binding("thread_early", assistant_id="asst_x")
    assert recorder.flush(5)
    mediator = quiet_mediator("thread_early")
    await drive_exchange(mediator, conversation_id="thread_early", run_id="run_e")
    assert recorder.close()
    with Session(db_engine) as session:
        conversation = session.get(Conversation, "thread_early")
    assert conversation is not None
    assert (conversation.session_id, conversation.assistant_id) == (mediator.session_id, "asst_x")
    assert conversation.title == "Price of AAPL?"


async def test_an_in_memory_sqlite_database_works_across_threads() -> None:
    engine = make_engine("sqlite://")
    recorder = Recorder(engine, flush_interval_s=0.0).start()
    await drive_exchange(quiet_mediator(), conversation_id="thread_mem", run_id="run_mem")
    assert recorder.close()
    assert counts(engine)["run_events"] == EVENTS_PER_EXCHANGE
    engine.dispose()
