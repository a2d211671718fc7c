"""Real conversations (emulator over HTTP, both mediators) recorded into a real database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from emulator import EmulatorServer, Fail, Fault, Reply, ScriptedModel
from mediator.events import MediatorEvent, MessageDelta, StateChanged, ToolExecuted
from mediator.script import Trigger
from persistence import HistoryStore, Recorder
from persistence.models import Conversation, Message, Run, RunEvent, ToolCallRow
from tests.persistence.support import QUESTIONS, EventLog, open_chat, publish_binding, session_of

WIRINGS = [
    ("basic", "assistants", "poll"),
    ("stateMachine", "responses", "poll"),
    ("basic", "responses", "stream"),
    ("stateMachine", "assistants", "stream"),
]
"""(mediator, protocol, delivery): each value of each axis at least twice."""


def exchanges(events: list[MediatorEvent]) -> list[list[MediatorEvent]]:
    """Split one session's events at each user message (the move to ready)."""
    groups: list[list[MediatorEvent]] = []
    for event in events:
        if isinstance(event, StateChanged) and event.trigger is Trigger.SET_USER_MESSAGE:
            groups.append([])
        groups[-1].append(event)
    return groups


def expected_per_run(events: list[MediatorEvent]) -> dict[str | None, list[tuple[str, str]]]:
    """(type, state) in order for each run; an exchange without a run is keyed None."""
    result: dict[str | None, list[tuple[str, str]]] = {}
    for group in exchanges(events):
        run = next((e.run_id for e in group if e.run_id), None)
        result.setdefault(run, []).extend((type(e).__name__, str(e.state)) for e in group)
    return result


def recorded_per_run(engine: Engine, session_id: str) -> dict[str | None, list[tuple[str, str]]]:
    with Session(engine) as session:
        rows = session.execute(
            select(RunEvent.run_id, RunEvent.type, RunEvent.state)
            .where(RunEvent.session_id == session_id)
            .order_by(RunEvent.run_id, RunEvent.exchange_id, RunEvent.seq)
        ).all()
    result: dict[str | None, list[tuple[str, str]]] = {}
    for run_id, kind, state in rows:
        result.setdefault(run_id, []).append((kind, state))
    return result


def _pieces_as_one(
    per_run: dict[str | None, list[tuple[str, str]]],
) -> dict[str | None, list[tuple[str, str]]]:
    """`per_run` with each run of consecutive ``MessageDelta`` entries made one."""
    return {
        run: [entry for i, entry in enumerate(entries) if i == 0 or entry != entries[i - 1]
              or entry[0] != "MessageDelta"]
        for run, entries in per_run.items()
    }  # fmt: skip


def _streamed_text(engine: Engine, session_id: str) -> dict[str | None, str]:
    """Each run's streamed pieces, as stored, joined in order."""
    with Session(engine) as session:
        rows = session.execute(
            select(RunEvent.run_id, RunEvent.output)
            .where(RunEvent.session_id == session_id, RunEvent.type == "MessageDelta")
            .order_by(RunEvent.run_id, RunEvent.exchange_id, RunEvent.seq)
        ).all()
    text: dict[str | None, str] = {}
    for run_id, piece in rows:
        text[run_id] = text.get(run_id, "") + (piece or "")
    return text


@pytest.fixture
def recorder(db_engine: Engine) -> Iterator[Recorder]:
    rec = Recorder(db_engine, flush_interval_s=0.01).start()
    yield rec
    rec.close()


@pytest.mark.parametrize(("mediator_type", "protocol", "delivery"), WIRINGS)
@pytest.mark.parametrize("batch_size", [1, 500], ids=["batch1", "batch500"])
async def test_conversation_with_tool_calls_is_stored_event_for_event_in_order(
    emulator: EmulatorServer,
    db_engine: Engine,
    mediator_type: str,
    protocol: str,
    delivery: str,
    batch_size: int,
) -> None:
    recorder = Recorder(db_engine, batch_size=batch_size, flush_interval_s=0.0).start()
    log = EventLog().start()
    user = open_chat(
        emulator.base_url, mediator_type=mediator_type, protocol=protocol, delivery=delivery
    )
    try:
        replies = [await user.ask(question) for question in QUESTIONS]
    finally:
        log.stop()
        await user.aclose()
    assert recorder.close(timeout_s=10)
    session_id, conversation_id = session_of(user), user.conversation_id
    published = log.of_session(session_id)

    # Every event, grouped by run, in publication order (the first message and "ready" included);
    # consecutive streamed pieces may share a row (as many as waited together), so both sides
    # are compared with each run of pieces as one, and the pieces' text must be all there.
    recorded = recorded_per_run(db_engine, session_id)
    assert _pieces_as_one(recorded) == _pieces_as_one(expected_per_run(published))
    streamed: dict[str | None, str] = {}
    for event in published:
        if isinstance(event, MessageDelta):
            streamed[event.run_id] = streamed.get(event.run_id, "") + event.delta
    assert _streamed_text(db_engine, session_id) == streamed
    with Session(db_engine) as session:
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        assert conversation.session_id == session_id
        assert conversation.title == QUESTIONS[0]
        assert session.scalar(select(func.count()).where(RunEvent.conversation_id.is_(None))) == 0
        runs = session.scalars(select(Run).order_by(Run.started_at)).all()
        assert [r.status for r in runs] == ["completed"] * len(QUESTIONS)
        assert all(r.ended_at and r.duration_s is not None and r.duration_s > 0 for r in runs)
        messages = session.execute(
            select(Message.role, Message.text, Message.run_id).order_by(Message.id)
        ).all()
        calls = session.scalars(select(ToolCallRow)).all()
    expected_messages = [
        (role, text) for q, a in zip(QUESTIONS, replies, strict=True) for role, text in
        (("user", q), ("assistant", a))
    ]  # fmt: skip
    assert [(m.role, m.text) for m in messages] == expected_messages
    assert [m.run_id for m in messages] == [r.id for r in runs for _ in (0, 1)]

    executed = [e for e in published if isinstance(e, ToolExecuted)]
    assert len(calls) == len(executed) == 5  # 2 + 2 for the advice, 1 for the price
    by_id = {c.call_id: c for c in calls}
    for event in executed:
        row = by_id[event.call.id]
        assert (row.name, row.arguments, row.output) == (
            event.call.name,
            event.call.arguments,
            event.result.output,
        )
        assert row.run_id == event.run_id
        assert row.is_error is False
        assert row.requested_at
        assert row.executed_at
        assert row.submitted_at
        assert row.requested_at <= row.executed_at <= row.submitted_at
        assert row.executed_at.tzinfo is not None
    with db_engine.connect() as connection:
        stored = " ".join(
            str(row)
            for table in (
                "assistants",
                "conversations",
                "runs",
                "messages",
                "run_events",
                "tool_calls",
            )
            for row in connection.exec_driver_sql(f"SELECT * FROM {table}")
        )
    assert "test-key-not-secret" not in stored  # the client's API key is never recorded


async def test_history_reads_back_what_the_recorder_stored(
    emulator: EmulatorServer, db_engine: Engine, recorder: Recorder
) -> None:
    user = open_chat(emulator.base_url)
    try:
        await user.ask(QUESTIONS[0])
    finally:
        await user.aclose()
    assert user.conversation_id is not None
    publish_binding(user.conversation_id, assistant_id="asst_demo", backend="assistants")
    assert recorder.flush(10)
    store = HistoryStore(db_engine)
    page = store.list_conversations()
    assert [
        (c.id, c.assistant_id, c.run_count, c.message_count, c.last_status) for c in page.items
    ] == [(user.conversation_id, "asst_demo", 1, 2, "completed")]
    (run,) = store.list_runs(user.conversation_id).items
    assert run.tool_call_count == 4
    events = store.list_run_events(run.id, limit=500)
    assert [e.seq for e in events.items] == list(range(events.total))
    timeline = store.run_timeline(run.id)
    states = [s.state for s in timeline.states]
    assert states[:2] == ["ready", "started"]
    assert states.count("requires_action") == 2
    assert all(a.end == b.start for a, b in zip(timeline.states, timeline.states[1:], strict=False))
    assert timeline.states[-1].state == "completed"
    assert len(timeline.tool_calls) == 4
    assert [a.id for a in store.list_assistants()] == ["asst_demo"]


async def test_failed_run_and_exchange_without_thread_are_recorded(
    emulator: EmulatorServer, db_engine: Engine, recorder: Recorder
) -> None:
    previous = emulator.model
    emulator.model = ScriptedModel([Fail(code="server_error", message="boom"), Reply("ok")])  # type: ignore[assignment]
    emulator.faults.add(Fault(method="POST", path=r"/threads", status=401, times=1))
    user = open_chat(emulator.base_url, max_retries=0)
    log = EventLog().start()
    try:
        for text in ("no thread yet", "fails remotely", "works"):
            try:
                await user.ask(text)
            except Exception:  # the first two exchanges fail on purpose
                continue
    finally:
        log.stop()
        emulator.faults.clear()
        emulator.model = previous
        await user.aclose()
    assert recorder.flush(10)
    session_id = session_of(user)
    assert recorded_per_run(db_engine, session_id) == expected_per_run(log.of_session(session_id))
    with Session(db_engine) as session:
        runs = session.scalars(select(Run).order_by(Run.started_at)).all()
        no_run = session.scalars(select(RunEvent).where(RunEvent.run_id.is_(None))).all()
    assert [(r.status, r.error_code) for r in runs] == [
        ("failed", "server_error"),
        ("completed", None),
    ]
    assert runs[0].error_message
    assert "boom" in runs[0].error_message
    # The exchange that never got a thread keeps run NULL, and joins the conversation once
    # the session's next exchange created the thread.
    assert [e.type for e in no_run] == [
        "StateChanged",
        "MessageSent",
        "StateChanged",
        "ExchangeFailed",
    ]
    assert {e.conversation_id for e in no_run} == {user.conversation_id}
