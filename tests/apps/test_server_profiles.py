"""The terminal chat as a user of a local model server runs it: `OPENAI_BASE_URL` alone, no key,
against the emulator behaving like each kind of server. `ASSISTANT_BACKEND=auto` (the default
there) picks the right backend, says so in one line, and the stock demo works, tool calls
shown. The four chats run side by side (real processes; the slow part is starting Python)."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

from emulator import EmulatorServer
from tests.apps.test_entry_points import ROOT, _clean_env

PICKS = {
    "openai": "using the responses backend",
    "stateless": "stateless Responses (the history is replayed); using the responses-stateless",
    "chained": "Responses that it keeps (chained with previous_response_id); using the "
    "responses-stateless",
    "chat": "only Chat Completions; using the chat backend",
}


def test_terminal_chat_picks_the_backend_each_server_supports(tmp_path: Path) -> None:
    questions = "What is the price of AAPL?\nShould I buy it?\nexit\n"
    with contextlib.ExitStack() as stack:
        servers = {
            profile: stack.enter_context(EmulatorServer(profile=profile, queue_delay=0.0))
            for profile in PICKS
        }
        chats = {
            profile: subprocess.Popen(
                [sys.executable, str(ROOT / "terminal_chat.py")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=tmp_path,
                env=_clean_env(
                    tmp_path,
                    OPENAI_BASE_URL=server.base_url,
                    DATABASE_URL=f"sqlite:///{tmp_path / f'{profile}.db'}",
                ),
            )
            for profile, server in servers.items()
        }
        outputs = {
            profile: chat.communicate(questions, timeout=90) for profile, chat in chats.items()
        }
    for profile, (out, err) in outputs.items():
        assert chats[profile].returncode == 0, f"{profile}: {err}"
        assert PICKS[profile] in err, f"{profile}: {err}"
        assert err.count("ASSISTANT_BACKEND=auto") == 1, f"{profile}: one line, said once"
        assert "Traceback" not in err, f"{profile}: {err}"
        assert "System: get_stock_price" in out, f"{profile}: {out}"
        assert "System: buy_or_sell" in out, f"{profile}: {out}"  # the follow-up saw the price
        assert "AAPL" in out.split("Should I buy it?")[-1], f"{profile}: {out}"
