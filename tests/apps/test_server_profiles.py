"""The terminal chat as a user of a local model server runs it: `OPENAI_BASE_URL` alone, no key,
against the emulator behaving like each kind of server. `ASSISTANT_BACKEND=auto` (the default
there) picks the right backend, says so in one line, and the stock demo works, tool calls
shown. The chat runs in this process (`terminal_chat.main`, stdin piped): starting Python four
times would cost more than the four chats; `test_entry_points` runs it as a real process."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path
from types import ModuleType

import pytest

from emulator import EmulatorServer
from tests.apps.test_entry_points import ROOT

PICKS = {
    "openai": "offers Conversations and Responses; using the responses backend.",
    "stateless": "offers stateless Responses (the history is replayed); using the "
    "responses-stateless backend.",
    "chained": "offers Responses that it keeps (chained with previous_response_id); using the "
    "responses-stateless backend.",
    "chat": "offers only Chat Completions; using the chat backend.",
}


def _terminal_chat() -> ModuleType:
    spec = importlib.util.spec_from_file_location("terminal_chat", ROOT / "terminal_chat.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("profile", list(PICKS))
def test_terminal_chat_picks_the_backend_each_server_supports(
    profile: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("RECORD_EVENTS", "false")  # the journal in memory is the history then
    monkeypatch.setenv("QUOTE_SOURCE", "simulated")
    monkeypatch.delenv("ASSISTANT_BACKEND", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("What is the price of AAPL?\nShould I buy it?\n"))
    with EmulatorServer(profile=profile, queue_delay=0.0) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        assert _terminal_chat().main([]) == 0
        out, err = capsys.readouterr()
    picked = [line for line in err.splitlines() if line.startswith("ASSISTANT_BACKEND=auto")]
    assert picked == [f"ASSISTANT_BACKEND=auto: {server.base_url} {PICKS[profile]}"], err
    assert "Traceback" not in err
    assert "System: get_stock_price" in out
    assert "System: buy_or_sell" in out  # the follow-up saw the price asked before
    assert "AAPL" in out.split("Should I buy it?")[-1]
