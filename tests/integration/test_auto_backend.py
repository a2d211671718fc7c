"""`ASSISTANT_BACKEND=auto` over real HTTP to the emulator, recorded in a real sqlite file:
what a conversation says it uses (its `ConversationBound` event, the conversations row) is the
protocol the probe chose, for a new conversation and for a resumed one alike."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

import conversation
from emulator import EmulatorServer
from mediator.events import ConversationBound, MediatorEvent, UsageReported
from persistence import current_recorder, shared_engine
from persistence.models import Conversation
from tests.integration.conftest import FAST_POLICY


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(poll_after_ms=10, queue_delay=0.0) as emulator:
        yield emulator


def _settings(server: EmulatorServer) -> conversation.Settings:
    return conversation.load_settings(
        {
            "ASSISTANT_BACKEND": "auto",
            "OPENAI_BASE_URL": server.base_url,
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "QUOTE_SOURCE": "simulated",
        },
        dotenv_path=None,
    )


def _stored_backend(conversation_id: str) -> str | None:
    recorder = current_recorder()
    assert recorder is not None
    assert recorder.flush(10)
    with Session(shared_engine(os.environ["DATABASE_URL"])) as session:
        row = session.get(Conversation, conversation_id)
        assert row is not None
        return row.backend


def _bound(events: list[MediatorEvent]) -> list[str]:
    return [e.backend for e in events if isinstance(e, ConversationBound)]


async def test_a_new_and_a_resumed_conversation_record_the_protocol_auto_chose(
    server: EmulatorServer,
) -> None:
    seen: list[MediatorEvent] = []
    chat = conversation.start_conversation(settings=_settings(server), policy=FAST_POLICY)
    try:
        with chat.on_event(seen.append):
            assert "AAPL" in await chat.ask("What is the price of AAPL?")
    finally:
        await chat.aclose()
    thread_id = chat.conversation_id
    assert thread_id is not None
    assert _bound(seen) == ["responses"]  # the emulator speaks Responses + Conversations
    usage = [e for e in seen if isinstance(e, UsageReported)]
    assert usage, "the emulator reports usage"
    assert not any(e.whole_run for e in usage)  # per response, as the chosen backend says
    assert _stored_backend(thread_id) == "responses"

    resumed_seen: list[MediatorEvent] = []
    resumed = conversation.resume_conversation(
        thread_id, settings=_settings(server), policy=FAST_POLICY
    )
    try:
        with resumed.on_event(resumed_seen.append):
            assert "AAPL" in await resumed.ask("should I buy it?")
    finally:
        await resumed.aclose()
    assert _stored_backend(thread_id) == "responses"
    assert _bound(resumed_seen) == ["responses"]


async def test_an_unknown_assistant_is_refused_before_anything_is_created(
    server: EmulatorServer,
) -> None:
    before = server.owners()
    with pytest.raises(conversation.BackendError, match="asst_nope"):
        async with conversation.open_conversation("asst_nope", settings=_settings(server)):
            pytest.fail("an unknown assistant opened a conversation")
    assert server.owners() == before
