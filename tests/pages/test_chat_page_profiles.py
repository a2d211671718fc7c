"""The chat page against a local model server that keeps no state: `OPENAI_BASE_URL` alone,
`ASSISTANT_BACKEND=auto` (the default there) picks the stateless backend the server supports,
and the stock demo works with its tool calls shown (AppTest, the emulator's profiles)."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator import EmulatorServer
from tests.pages.test_chat_page import send, started_app


@pytest.mark.parametrize("profile", ["stateless", "chat"])
def test_chat_page_on_a_stateless_server_shows_tool_calls_and_the_reply(
    app_env: Path, monkeypatch: pytest.MonkeyPatch, profile: str
) -> None:
    with EmulatorServer(profile=profile, queue_delay=0.0) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)  # one variable, no key, no id
        at = started_app()
        # A keyless local server is served the demo assistant, as in the terminal.
        assert at.sidebar.text_input(key="asst_id").value == "asst_demo_stock"
        send(at, "Should I buy MSFT?")
        send(at, "and TSLA?")
    names = [m.name for m in at.chat_message]
    assert names == ["user", "System", "System", "assistant"] * 2
    assert "MSFT" in at.chat_message[3].markdown[0].value
    assert "TSLA" in at.chat_message[7].markdown[0].value
    assert at.session_state.thread_id.startswith("conv_local_")  # named here: no server state
