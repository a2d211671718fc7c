"""The terminal chat ends on the words chat users type to leave (`/quit`, `quit`, `/exit`,
`exit`, any case, spaces around ignored): the word is never sent to the assistant."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.apps.test_entry_points import ROOT, _clean_env, _run
from tests.apps.test_terminal_signals import PROMPT, WAIT_S, Terminal, ask, user_messages

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize("word", ["/quit", "QUIT", "  /Exit  ", "quit", "exit"])
def test_a_quit_word_ends_the_piped_chat_and_is_not_sent(tmp_path: Path, word: str) -> None:
    url = f"sqlite:///{tmp_path / 'quit.db'}"
    env = _clean_env(tmp_path, DATABASE_URL=url, RECORD_EVENTS="true")
    piped = f"What is the price of AAPL?\n{word}\nWhat is the price of MSFT?\n"
    result = _run([str(ROOT / "terminal_chat.py")], piped, tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert "AAPL" in result.stdout
    assert "MSFT" not in result.stdout  # the chat ended at the word: the next line was not read
    assert user_messages(url) == ["What is the price of AAPL?"]
    assert "Traceback" not in result.stderr


@pytest.fixture
def recorded_terminal(tmp_path: Path) -> Iterator[tuple[Terminal, str]]:
    """The chat on a real pty, recording into its own sqlite file (and that file's URL)."""
    url = f"sqlite:///{tmp_path / 'quit.db'}"
    term = Terminal(tmp_path, DATABASE_URL=url, RECORD_EVENTS="true")
    yield term, url
    term.close()


def test_slash_quit_on_a_terminal_ends_the_chat_and_the_hint_names_it(
    recorded_terminal: tuple[Terminal, str],
) -> None:
    term, url = recorded_terminal
    assert b"Type /quit" in term.until(PROMPT)
    ask(term, b"What is the price of MSFT?")
    term.type(b" /Quit\r")
    assert term.proc.wait(timeout=WAIT_S) == 0
    assert user_messages(url) == ["What is the price of MSFT?"]


def test_the_help_names_the_words_that_end_the_chat(tmp_path: Path) -> None:
    result = _run([str(ROOT / "terminal_chat.py"), "--help"], "", tmp_path, _clean_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "/quit" in result.stdout
    assert "exit" in result.stdout
