"""Issue 8: persistence learns everything from events. Replaying the events a conversation
published into an empty database gives the same rows as recording them live."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from emulator import EmulatorServer
from mediator.bus import publish
from persistence import Recorder, make_engine
from persistence.models import Conversation, Message, Run, RunEvent, ToolCallRow
from tests.persistence.support import QUESTIONS, EventLog, open_chat

# Columns that say what happened; surrogate keys and the recorder's random event keys differ.
COLUMNS: dict[type[Any], tuple[str, ...]] = {
    Conversation: ("id", "session_id", "assistant_id", "backend", "title"),
    Run: ("id", "conversation_id", "session_id", "exchange_id", "status", "error_message"),
    Message: ("conversation_id", "run_id", "session_id", "exchange_id", "role", "text"),
    RunEvent: (
        "session_id", "exchange_id", "conversation_id", "run_id", "seq", "type", "state",
        "previous_state", "trigger", "tool_name", "call_id", "input", "output", "code",
    ),
    ToolCallRow: ("run_id", "call_id", "conversation_id", "name", "arguments", "output"),
}  # fmt: skip


def snapshot(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with Session(engine) as session:
        for model, names in COLUMNS.items():
            rows = session.execute(select(*(getattr(model, n) for n in names))).all()
            tables[model.__name__] = sorted((tuple(r) for r in rows), key=repr)
    return tables


@pytest.mark.parametrize(
    ("protocol", "delivery"), [("responses", "stream"), ("assistants", "poll")]
)
async def test_replaying_the_published_events_rebuilds_the_same_rows(
    emulator: EmulatorServer, tmp_path: Path, protocol: str, delivery: str
) -> None:
    live_engine = make_engine(f"sqlite:///{tmp_path}/live.db")
    log = EventLog()
    live = Recorder(live_engine, flush_interval_s=0.01).start()
    log.start()
    user = open_chat(emulator.base_url, protocol=protocol, delivery=delivery)
    try:
        for question in QUESTIONS[:2]:
            await user.ask(question)
    finally:
        await user.aclose()
        log.stop()
        assert live.close()
    mine = log.of_session(user.session_id)
    assert any(type(e).__name__ == "ConversationBound" for e in mine)
    assert any(type(e).__name__ == "ToolExecuted" for e in mine)

    replay_engine = make_engine(f"sqlite:///{tmp_path}/replayed.db")
    replayed = Recorder(replay_engine, flush_interval_s=0.01).start()
    try:
        for event in mine:
            publish(event)
    finally:
        assert replayed.close()

    live_rows, replayed_rows = snapshot(live_engine), snapshot(replay_engine)
    assert live_rows["Conversation"][0][2:4] == ("asst_demo_stock", protocol)
    assert all(live_rows[name] for name in live_rows), "every table has rows to compare"
    assert replayed_rows == live_rows
    live_engine.dispose()
    replay_engine.dispose()
