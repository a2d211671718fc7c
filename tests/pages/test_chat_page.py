"""streamlit-chat.py under AppTest: the script runs in-process, settings come from env vars."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pubsub import pub
from streamlit.testing.v1 import AppTest

from emulator import EmulatorServer, Fail, Reply, ScriptedModel
from mediator.events import ALL_TOPICS
from persistence import current_recorder
from tests.pages.conftest import ROOT

APP = str(ROOT / "streamlit-chat.py")
TIMEOUT_S = 30


def listener_count() -> int:
    """Listeners subscribed to any mediator topic in this process's pypubsub tree."""
    manager = pub.getDefaultTopicMgr()
    topics = (manager.getTopic(name, okIfNone=True) for name in ALL_TOPICS)
    return sum(len(topic.getListeners()) for topic in topics if topic is not None)


def started_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.run()
    assert not at.exception
    return at


def send(at: AppTest, prompt: str) -> None:
    at.chat_input(key="prompt").set_value(prompt).run()
    assert not at.exception


def texts(block: object) -> list[str]:
    return [t.value for t in block.text]  # type: ignore[attr-defined]


@pytest.fixture
def scripted_emulator(monkeypatch: pytest.MonkeyPatch, app_env: Path) -> Iterator[EmulatorServer]:
    """A separate emulator whose first run fails; the page talks to it like an online API."""
    model = ScriptedModel([Fail(message="The scripted model failed this run."), Reply("Back up.")])
    with EmulatorServer(model, poll_after_ms=10, queue_delay=0.0) as server:
        monkeypatch.setenv("OPENAI_API_KEY", "some-test-key")
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("ASSISTANT_ID", "asst_demo_stock")
        yield server


def test_offline_default_shows_the_demo_assistant_and_says_so(app_env: Path) -> None:
    at = started_app()
    assert at.sidebar.text_input(key="asst_id").value == "asst_demo_stock"
    assert "Offline demo: built-in emulator, simulated quotes" in [c.value for c in at.caption]
    assert at.header[0].value == "New conversation"
    assert not at.chat_input(key="prompt").disabled


@pytest.mark.parametrize("delivery", ["stream", "poll"])
def test_chat_round_shows_tool_calls_as_system_messages_then_the_reply(
    app_env: Path, monkeypatch: pytest.MonkeyPatch, delivery: str
) -> None:
    monkeypatch.setenv("DELIVERY", delivery)
    at = started_app()
    before = listener_count()
    send(at, "Should I buy MSFT?")

    assert [m.name for m in at.chat_message] == ["user", "System", "System", "assistant"]
    user, price, advice, assistant = at.chat_message
    assert user.markdown[0].value == "Should I buy MSFT?"
    assert texts(price) == [
        "get_stock_price(symbol=MSFT) → price="
        + quote["price"]
        + ", currency=USD, source=simulated…"
        for quote in [{"price": str(json.loads(price.code[1].value)["price"])}]
    ]
    assert texts(advice)[0].startswith("buy_or_sell(symbol=MSFT, price=")
    assert "recommendation=" in texts(advice)[0]
    assert price.avatar == ":material/build:"
    # The whole input and output, one click away, as text.
    details = price.expander[0]
    assert details.label.startswith("Input and output · ")
    assert json.loads(details.code[0].value) == {"symbol": "MSFT"}
    assert json.loads(details.code[1].value)["source"] == "simulated"
    assert "MSFT" in assistant.markdown[0].value
    status = at.status[0]
    assert (status.label, status.state) == ("Completed: 2 tool calls", "complete")
    assert any("-> completed" in line for line in texts(status))
    # Each call is shown once: no second listing in the status box or elsewhere.
    every_text = [t.value for t in at.text]
    assert [t for t in every_text if "get_stock_price" in t] == texts(price)
    assert [t for t in every_text if "buy_or_sell" in t] == texts(advice)
    assert at.header[0].value == "Should I buy MSFT?"
    thread_id = at.session_state.thread_id
    assert thread_id
    ids = f"Assistant asst_demo_stock · conversation {thread_id} · "
    assert any(c.value.startswith(ids) for c in at.caption)
    assert listener_count() == before


def test_conversation_continues_and_is_redrawn_on_rerun(app_env: Path) -> None:
    at = started_app()
    send(at, "What is the price of AAPL?")
    thread_id = at.session_state.thread_id
    send(at, "and TSLA?")
    assert at.session_state.thread_id == thread_id
    assert at.header[0].value == "What is the price of AAPL?"  # the first message titles it
    names = [m.name for m in at.chat_message]
    assert names == ["user", "System", "assistant"] * 2
    assert "TSLA" in at.chat_message[-1].markdown[0].value
    at.run()  # a plain rerun redraws the transcript and does not resend the prompt
    assert [m.name for m in at.chat_message] == names
    assert [s.state for s in at.status] == ["complete", "complete"]


def test_new_conversation_button_opens_a_new_conversation(app_env: Path) -> None:
    at = started_app()
    button = at.sidebar.button(key="new_conversation")
    assert button.label == "New conversation"
    assert "your first message starts a conversation" in button.help
    send(at, "What is the price of AAPL?")
    first = at.session_state.thread_id
    at.sidebar.button(key="new_conversation").click().run()
    assert not at.exception
    second = at.session_state.thread_id
    assert second.startswith(first.split("_")[0] + "_")
    assert second != first
    assert len(at.chat_message) == 0
    assert at.header[0].value == "New conversation"
    send(at, "What is the price of NVDA?")
    assert at.session_state.thread_id == second
    assert at.header[0].value == "What is the price of NVDA?"


def test_live_toggle_lists_every_event_in_the_status(app_env: Path) -> None:
    at = started_app()
    at.sidebar.toggle(key="live").set_value(True).run()
    send(at, "What is the price of AAPL?")
    lines = texts(at.status[0])
    assert any(line.startswith("User: What is the price of AAPL?") for line in lines)
    assert any(line.startswith("State: ") for line in lines)
    assert any(line.startswith("System: submitted 1 tool output") for line in lines)
    assert not [line for line in lines if "get_stock_price(" in line]  # its System message has it


def test_failed_exchange_shows_an_error_and_the_next_prompt_works(
    scripted_emulator: EmulatorServer,
) -> None:
    at = started_app()
    assert "Offline demo: built-in emulator, simulated quotes" not in [c.value for c in at.caption]
    before = listener_count()
    send(at, "hello")
    assert len(at.error) == 1
    assert "could not answer" in at.error[0].value
    assert "scripted model failed" in at.error[0].value
    assert at.status[0].state == "error"
    thread_id = at.session_state.thread_id

    send(at, "are you back?")
    assert at.chat_message[-1].markdown[0].value == "Back up."
    assert at.session_state.thread_id == thread_id
    assert [s.state for s in at.status] == ["error", "complete"]
    assert len(at.error) == 1  # the first error is still shown in the transcript
    assert listener_count() == before


def test_key_without_assistant_id_explains_what_to_set(
    app_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "some-test-key")
    at = started_app()
    warning = at.warning[0].value
    assert "ASSISTANT_ID" in warning
    assert "python assistant_setup.py --write-env" in warning
    assert at.chat_input(key="prompt").disabled
    assert at.sidebar.button(key="new_conversation").disabled


def test_invalid_setting_is_named_not_raised(
    app_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDIATOR_TYPE", "quantum")
    at = started_app()
    assert "MEDIATOR_TYPE" in at.error[0].value
    assert len(at.chat_input) == 0


def test_dotenv_in_the_working_directory_sets_the_default_assistant(app_env: Path) -> None:
    (app_env / ".env").write_text("ASSISTANT_ID=asst_from_dotenv\n")
    at = started_app()
    assert at.sidebar.text_input(key="asst_id").value == "asst_from_dotenv"


def test_the_url_names_the_conversation_and_reopens_it_in_a_new_session(app_env: Path) -> None:
    at = started_app()
    assert "conversation" not in at.query_params
    send(at, "What is the price of AAPL?")
    thread_id = at.session_state.thread_id
    assert at.query_params["conversation"] == thread_id

    reopened = AppTest.from_file(APP, default_timeout=TIMEOUT_S)  # a reload: a new session
    reopened.query_params["conversation"] = thread_id
    reopened.run()
    assert not reopened.exception
    assert reopened.session_state.thread_id == thread_id
    # Recording is off here, so there is no transcript to redraw, and the page says so.
    assert any("recording is off" in e.value for e in reopened.error)
    send(reopened, "and TSLA?")
    assert reopened.session_state.thread_id == thread_id  # the same conversation continues
    assert "TSLA" in reopened.chat_message[-1].markdown[0].value


def test_an_unknown_conversation_in_the_url_is_named_and_a_new_one_starts(
    app_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECORD_EVENTS", "true")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{app_env}/fresh.db")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.query_params["conversation"] = "conv_unknown"
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "No recorded conversation conv_unknown: type a message to start a new one."
    ]
    assert at.session_state.thread_id is None
    assert "conversation" not in at.query_params


def _spend_captions(at: AppTest) -> list[str]:
    return [c.value for m in at.chat_message if m.name == "assistant" for c in m.caption]


def test_tokens_and_cost_per_exchange_and_for_the_conversation_survive_a_reload(
    app_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Priced by an override (the emulator's model has no price of its own), recorded, and
    shown again from the database in a new session."""
    monkeypatch.setenv("RECORD_EVENTS", "true")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{app_env}/usage.db")
    monkeypatch.setenv("PRICE_OVERRIDES", '{"offline-demo": {"input": 2.5, "output": 10}}')
    if (earlier := current_recorder()) is not None:  # the process's one, to another database
        earlier.close(timeout_s=30)
    try:
        _reload_shows_the_same_usage(started_app())
    finally:
        if (ours := current_recorder()) is not None:
            ours.close(timeout_s=30)


def _reload_shows_the_same_usage(at: AppTest) -> None:
    send(at, "Should I buy MSFT?")
    send(at, "hello")
    lines = _spend_captions(at)
    assert len(lines) == 2
    pattern = re.compile(r"Tokens: ([\d,]+) in / ([\d,]+) out · \$(0\.\d+)")
    matches = [pattern.fullmatch(line) for line in lines]
    assert all(matches), lines
    tokens = sum(int(m[1].replace(",", "")) + int(m[2].replace(",", "")) for m in matches if m)
    expected = sum((int(m[1].replace(",", "")) * 2.5 + int(m[2].replace(",", "")) * 10) / 1e6
                   for m in matches if m)  # fmt: skip
    thread_id = at.session_state.thread_id
    (ids,) = [c.value for c in at.caption if c.value.startswith("Assistant asst_demo_stock")]
    assert ids.startswith(
        f"Assistant asst_demo_stock · conversation {thread_id} · {tokens:,} tokens"
    )
    assert float(ids.rsplit("$", 1)[1]) == pytest.approx(expected, rel=0.01)

    # The recorder writes in the background: a new session reads it from the database.
    recorder = current_recorder()
    assert recorder is not None
    assert recorder.flush(timeout_s=30)
    reopened = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    reopened.query_params["conversation"] = thread_id
    reopened.run()
    assert not reopened.exception
    assert _spend_captions(reopened) == lines
    assert ids in [c.value for c in reopened.caption]
