"""The public API of `conversation/` against the embedded offline emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import conversation
from conversation.offline import stop_embedded_emulator
from mediator.events import MediatorEvent, MessageRetrieved, MessageSent, ToolExecuted


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[None]:
    monkeypatch.setenv("QUOTE_SOURCE", "simulated")
    monkeypatch.chdir(tmp_path)  # no stray .env from the checkout
    yield
    stop_embedded_emulator()


def _settings(**env: str) -> conversation.Settings:
    return conversation.load_settings(env, dotenv_path=None)


async def test_open_conversation_has_a_thread_on_entry_and_sees_every_event() -> None:
    seen: list[MediatorEvent] = []
    async with conversation.open_conversation(settings=_settings()) as chat:
        assert chat.conversation_id is not None
        with chat.on_event(seen.append):
            reply = await chat.ask("What is the price of AMZN?")
    assert "AMZN" in reply
    kinds = [type(e) for e in seen]
    assert kinds[1] is MessageSent  # after the StateChanged to ready
    assert ToolExecuted in kinds
    assert kinds[-1] is MessageRetrieved
    assert {e.conversation_id for e in seen} == {chat.conversation_id}


async def test_on_event_sees_the_first_message_of_a_lazy_conversation() -> None:
    chat = conversation.start_conversation(settings=_settings())
    seen: list[MediatorEvent] = []
    with chat.on_event(seen.append):
        await chat.ask("What is the price of AAPL?")
    await chat.aclose()
    sent = [e for e in seen if isinstance(e, MessageSent)]
    assert [e.text for e in sent] == ["What is the price of AAPL?"]
    assert sent[0].conversation_id is None  # the thread did not exist yet
    assert sent[0].session_id == seen[-1].session_id


async def test_two_conversations_never_see_each_others_events() -> None:
    first = conversation.start_conversation(settings=_settings())
    second = conversation.start_conversation(settings=_settings())
    seen_first: list[MediatorEvent] = []
    seen_second: list[MediatorEvent] = []
    with first.on_event(seen_first.append), second.on_event(seen_second.append):
        await first.ask("price of AAPL")
        await second.ask("price of TSLA")
    await first.aclose()
    await second.aclose()
    assert first.conversation_id != second.conversation_id
    assert {e.conversation_id for e in seen_first} <= {None, first.conversation_id}
    assert {e.conversation_id for e in seen_second} <= {None, second.conversation_id}
    assert all("TSLA" not in str(e) for e in seen_first)


async def test_resume_conversation_continues_the_thread() -> None:
    async with conversation.open_conversation(settings=_settings()) as chat:
        await chat.ask("What is the price of META?")
        thread_id = chat.conversation_id
    assert thread_id is not None
    resumed = conversation.resume_conversation(thread_id, settings=_settings())
    try:
        # A follow-up with no ticker: the demo model uses the thread's last tickers.
        reply = await resumed.ask("should I buy it?")
    finally:
        await resumed.aclose()
    assert resumed.conversation_id == thread_id
    assert "META" in reply


def test_resume_needs_a_conversation_id() -> None:
    with pytest.raises(ValueError, match="conversation_id"):
        conversation.resume_conversation("", settings=_settings())


def test_online_without_assistant_id_is_a_clear_error() -> None:
    settings = _settings(OPENAI_API_KEY="not-a-real-key", OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    with pytest.raises(conversation.SettingsError, match="ASSISTANT_ID"):
        conversation.start_conversation(settings=settings)


async def test_send_outside_an_event_loop_is_a_clear_error() -> None:
    chat = conversation.start_conversation(settings=_settings())
    import asyncio

    def send_from_a_plain_thread() -> None:
        chat.send_user_message("hi")

    with pytest.raises(RuntimeError, match="running event loop"):
        await asyncio.to_thread(send_from_a_plain_thread)
    await chat.aclose()


def test_public_api_is_pinned() -> None:
    assert sorted(conversation.__all__) == sorted(
        [
            "DEMO_ASSISTANT_ID",
            "BackendError",
            "ConversationBusyError",
            "ExchangeCancelledError",
            "ExchangeError",
            "ExchangeFailedError",
            "ExchangePolicy",
            "ExchangeTimeoutError",
            "PersistenceError",
            "Settings",
            "SettingsError",
            "ToolkitError",
            "UserProxy",
            "load_settings",
            "open_conversation",
            "resume_conversation",
            "start_conversation",
            # What the apps use, so they need no private module (tests/unit/test_boundaries.py):
            # the events a conversation publishes, the mediator's states, the tool-call format.
            "ActionRequired",
            "ConversationBound",
            "ExchangeCancelled",
            "ExchangeFailed",
            "MediatorEvent",
            "MessageDelta",
            "MessageRetrieved",
            "MessageSent",
            "Reconciled",
            "RunStarted",
            "RunStatusChecked",
            "State",
            "StateChanged",
            "ToolCallDetail",
            "ToolExecuted",
            "ToolOutputsSubmitted",
            "pretty_json",
            "tool_call_detail",
            "tool_call_line",
            "unfinished_conversations",
            "interrupted_exchange",
            "recorded_transcript",
            # Usage and cost (issue 13).
            "Spend",
            "Usage",
            "UsageReported",
            "configure_tracing",
            "format_usd",
            # Approving tool calls (issue 12): what is asked, what is answered, the errors.
            "ApprovalDecision",
            "ApprovalGiven",
            "ApprovalNotPendingError",
            "ApprovalRejected",
            "ApprovalRequest",
            "ApprovalRequested",
            "ExchangeSuspendedError",
            "call_summary",
        ]
    )
    for name in conversation.__all__:
        assert getattr(conversation, name) is not None


def test_every_public_error_is_a_toolkit_error() -> None:
    for name in conversation.__all__:
        value = getattr(conversation, name)
        if isinstance(value, type) and issubclass(value, Exception):
            assert issubclass(value, conversation.ToolkitError), name


async def test_open_conversation_against_a_closed_port_raises_a_toolkit_error() -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = conversation.load_settings(
        {"OPENAI_API_KEY": "not-a-secret", "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1",
         "ASSISTANT_ID": "asst_x", "RECORD_EVENTS": "false"},
        dotenv_path=None,
    )  # fmt: skip
    with pytest.raises(conversation.ToolkitError) as info:
        async with conversation.open_conversation(settings=settings):
            pass
    assert isinstance(info.value, conversation.BackendError)


@pytest.mark.parametrize("protocol", ["responses", "assistants"])
async def test_open_conversation_names_an_unknown_assistant_and_creates_nothing(
    protocol: str,
) -> None:
    from conversation.offline import embedded_emulator

    settings = _settings(ASSISTANT_BACKEND=protocol)
    server = embedded_emulator()
    before = server.owners()
    with pytest.raises(conversation.BackendError, match="asst_nobody_made"):
        async with conversation.open_conversation("asst_nobody_made", settings=settings):
            pass
    assert server.owners() == before


async def test_a_lenient_client_reads_calls_reply_usage_and_model_from_the_stream() -> None:
    """The default (lenient) client builds only the read fields of each lifecycle event's
    response; the tool call, the reply, each response's usage and its model still arrive."""
    seen: list[MediatorEvent] = []
    async with conversation.open_conversation(settings=_settings()) as chat:
        with chat.on_event(seen.append):
            reply = await chat.ask("What is the price of AMZN?")
    assert "AMZN" in reply
    executed = [e for e in seen if isinstance(e, ToolExecuted)]
    assert [e.call.name for e in executed] == ["get_stock_price"]
    reports = [e for e in seen if isinstance(e, conversation.UsageReported)]
    assert len(reports) == 2  # one per model response: the call, then the reply
    assert all(r.model and r.usage.input_tokens > 0 < r.usage.output_tokens for r in reports)
