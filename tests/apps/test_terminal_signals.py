"""The terminal chat ends cleanly on Ctrl-C and works on a real terminal (a pty)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from emulator import CallTools, EmulatorServer, ScriptedModel, ToolSpec, Turn, TurnContext
from persistence import HistoryStore
from tests.apps.test_entry_points import ROOT, _clean_env

WAIT_S = 60.0
"""Generous: a busy machine may take this long to start the chat or answer."""
LEFT, UP = b"\x1b[D", b"\x1b[A"
CTRL_C, CTRL_D = b"\x03", b"\x04"
PROMPT = b"User:"  # prompt_toolkit draws the trailing space as a cursor move

pytestmark = pytest.mark.timeout(300)


class GatedModel:
    """A scripted model that holds its second turn until the test opens the gate."""

    def __init__(self, turns: list[Turn]) -> None:
        self.scripted = ScriptedModel(turns)
        self.gate = threading.Event()

    def decide(self, context: TurnContext) -> Turn:
        if self.scripted.used >= 1:
            self.gate.wait(timeout=WAIT_S * 2)
        return self.scripted.decide(context)


def _read_until(fd: int, marker: bytes, within_s: float) -> bytes:
    """Read from `fd` until `marker` appears; fail when the deadline passes."""
    deadline = time.monotonic() + within_s
    seen = b""
    while marker not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"did not see {marker!r} within {within_s} s; got {seen!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the pty closes when the child exits
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_ctrl_c_at_the_prompt_ends_cleanly(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "terminal_chat.py")],
        stdin=subprocess.PIPE,  # kept open: the chat waits for input when Ctrl-C comes
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=_clean_env(tmp_path),
    )
    try:
        assert proc.stderr is not None
        _read_until(proc.stderr.fileno(), b"offline emulator", within_s=WAIT_S)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert b"Traceback" not in err


class Terminal:
    """`terminal_chat.py` on a real pty that is its controlling terminal.

    As in a shell: Ctrl-C typed on the pty becomes SIGINT from the kernel's line discipline
    (while the program has the terminal in cooked mode), Ctrl-D is end of input.
    """

    def __init__(self, cwd: Path, **env: str) -> None:
        self.controller, terminal = pty.openpty()
        environment = _clean_env(cwd, **env)
        environment["XDG_STATE_HOME"] = str(cwd / "state")  # the prompt history goes here
        environment["PROMPT_TOOLKIT_NO_CPR"] = "1"  # nobody answers cursor-position queries
        environment["TERM"] = "xterm"
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "terminal_chat.py")],
            stdin=terminal,
            stdout=terminal,
            stderr=terminal,
            cwd=cwd,
            env=environment,
            start_new_session=True,
            preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
        )
        os.close(terminal)
        self.seen = b""

    def until(self, marker: bytes, within_s: float = WAIT_S) -> bytes:
        """Everything read up to and including `marker` (the rest is kept for the next call)."""
        while marker not in self.seen:
            self.seen += _read_until(self.controller, marker, within_s)
            if marker not in self.seen:
                raise AssertionError(f"did not see {marker!r}; got {self.seen[-2000:]!r}")
        head, _, self.seen = self.seen.partition(marker)
        return head + marker

    def rest(self, within_s: float = WAIT_S) -> bytes:
        """Everything until the program exits (the pty closes)."""
        deadline = time.monotonic() + within_s
        while self.proc.poll() is None or self._readable():
            assert time.monotonic() < deadline, f"still running; got {self.seen[-2000:]!r}"
            if self._readable(0.2):
                try:
                    chunk = os.read(self.controller, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                self.seen += chunk
        return self.seen

    def _readable(self, timeout: float = 0) -> bool:
        return bool(select.select([self.controller], [], [], timeout)[0])

    def type(self, data: bytes) -> None:
        os.write(self.controller, data)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=WAIT_S)
        os.close(self.controller)


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Callable[..., Terminal]]:
    opened: list[Terminal] = []

    def start(**env: str) -> Terminal:
        opened.append(Terminal(tmp_path, **env))
        return opened[-1]

    yield start
    for term in opened:
        term.close()


def user_messages(url: str) -> list[str]:
    """What the chat recorded as the user's messages, oldest first, across conversations."""
    store = HistoryStore(url)
    try:
        conversations = reversed(store.list_conversations().items)
        return [
            m.text
            for c in conversations
            for m in store.list_messages(c.id).items
            if m.role == "user"
        ]
    finally:
        store.close()


def ask(term: Terminal, text: bytes, until: bytes = b"Assistant:") -> bytes:
    """Type `text` and Enter; what was shown up to the next prompt after the reply."""
    term.type(text + b"\r")
    shown = term.until(until)
    return shown + term.until(PROMPT)


def test_interactive_terminal_session(terminal: Callable[..., Terminal]) -> None:
    term = terminal()
    term.until(PROMPT)
    reply = ask(term, b"What is the price of MSFT?")
    assert b"System: get_stock_price(symbol=MSFT)" in reply
    assert b"MSFT is trading at" in reply
    term.type(b"exit\r")
    assert term.proc.wait(timeout=WAIT_S) == 0


def test_arrow_keys_edit_the_line_and_history_survives_a_restart(
    terminal: Callable[..., Terminal], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'edit.db'}"
    first = terminal(DATABASE_URL=url, RECORD_EVENTS="true")
    first.until(PROMPT)
    # "price of TSLA", then Left x4 and "AAPL " typed before TSLA: edited, not ^[[D inserted.
    ask(first, b"price of TSLA" + LEFT * 4 + b"AAPL ")
    first.type(b"exit\r")
    assert first.proc.wait(timeout=WAIT_S) == 0
    assert user_messages(url) == ["price of AAPL TSLA"]
    history = (tmp_path / "state" / "assistant-mediator" / "terminal_history").read_text()
    assert "price of AAPL TSLA" in history

    second = terminal(DATABASE_URL=url, RECORD_EVENTS="true")
    second.until(PROMPT)
    ask(second, UP + UP)  # Up twice: back past "exit" to the question before it
    second.type(b"exit\r")
    assert second.proc.wait(timeout=WAIT_S) == 0
    assert user_messages(url) == ["price of AAPL TSLA", "price of AAPL TSLA"]


def test_ctrl_d_leaves_the_shell_prompt_on_a_new_line(terminal: Callable[..., Terminal]) -> None:
    term = terminal()
    term.until(PROMPT)
    term.type(CTRL_D)
    assert term.proc.wait(timeout=WAIT_S) == 0
    assert term.rest().endswith(b"\n")


def test_ctrl_c_during_a_reply_says_bye_and_leaves_no_unretrieved_error(
    terminal: Callable[..., Terminal],
) -> None:
    model = GatedModel([CallTools([ToolSpec("get_stock_price", {"symbol": "MSFT"})])])
    with EmulatorServer(model, poll_after_ms=20, queue_delay=0.0) as server:
        try:
            term = terminal(
                OPENAI_API_KEY="some-test-key",
                OPENAI_BASE_URL=server.base_url,
                ASSISTANT_ID="asst_demo_stock",
                QUOTE_SOURCE="simulated",
            )
            term.until(PROMPT)
            term.type(b"Is MSFT a buy?\r")
            term.until(b"System: get_stock_price(symbol=MSFT)")  # the reply is held back
            term.type(CTRL_C)
            assert term.proc.wait(timeout=WAIT_S) == 0
            out = term.rest()
        finally:
            model.gate.set()
    assert b"Bye." in out
    assert b"never retrieved" not in out
    assert b"Traceback" not in out


def test_a_5000_character_message_is_kept_whole(
    terminal: Callable[..., Terminal], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'long.db'}"
    term = terminal(DATABASE_URL=url, RECORD_EVENTS="true")
    message = "What is the price of AAPL? " + "x" * (5000 - 27)
    assert len(message) == 5000
    term.until(PROMPT)
    for start in range(0, len(message), 1000):  # as a paste arrives: in chunks
        term.type(message[start : start + 1000].encode())
    ask(term, b"")
    term.type(b"exit\r")
    assert term.proc.wait(timeout=WAIT_S) == 0
    assert user_messages(url) == [message]
