"""Fixtures for the history page: a sqlite file holding real recorded conversations.

`recorded_db` runs offline conversations through `conversation.wiring` against emulators on
127.0.0.1 (the real SDK over HTTP) with a `Recorder` writing to a sqlite file, once per test
session: the demo stock model with tool calls, a run the model fails, and a reply that is an
HTML payload. Pages read it with ``DATABASE_URL`` pointing at it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from emulator import DEMO_ASSISTANT_ID, EmulatorServer, Fail, Reply, ScriptedModel
from persistence import Recorder, make_engine
from tests.pages.conftest import browser  # noqa: F401  (the shared headless chromium fixture)
from tests.persistence.support import open_chat, publish_binding

XSS = "<img src=x onerror=alert(1)>"
TOOL_QUESTIONS = ("Should I buy MSFT?", "What is the price of AAPL?")
FAILING_QUESTION = "This question breaks the model"
FAIL_MESSAGE = "The scripted model failed this run."
XSS_QUESTION = "Draw me a zebra picture"
SCRIPTED_ASSISTANT_ID = "asst_scripted_html"
RECORD_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class RecordedHistory:
    """Where the recorded database is and what it holds."""

    url: str
    path: Path
    tools: str
    """The conversation with tool calls (two completed runs)."""
    failed: str
    """The conversation whose only run failed."""
    xss: str
    """The conversation whose reply is `XSS`."""


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def fast_emulator(model: ScriptedModel | None = None) -> EmulatorServer:
    return EmulatorServer(model, poll_after_ms=10, queue_delay=0.0)


async def _converse(base_url: str, questions: tuple[str, ...], *, may_fail: bool = False) -> str:
    """Ask each question in one new conversation; the conversation's id."""
    user = open_chat(base_url, max_retries=0)
    try:
        for question in questions:
            try:
                await asyncio.wait_for(user.ask(question), RECORD_TIMEOUT_S)
            except Exception:
                if not may_fail:
                    raise
        conversation_id = user.conversation_id
    finally:
        await user.aclose()
    assert conversation_id is not None
    return conversation_id


@contextmanager
def recording(url: str) -> Iterator[Recorder]:
    """A recorder on `url` for the block; every event is stored when the block ends."""
    engine = make_engine(url)
    recorder = Recorder(engine, flush_interval_s=0.01).start()
    try:
        yield recorder
    finally:
        stored = recorder.close(timeout_s=RECORD_TIMEOUT_S)
        engine.dispose()
    assert stored, "the recorder did not store every event in time"


async def _record_all(
    demo: EmulatorServer, failing: EmulatorServer, xss: EmulatorServer
) -> tuple[str, str, str]:
    tools = await _converse(demo.base_url, TOOL_QUESTIONS)
    failed = await _converse(failing.base_url, (FAILING_QUESTION,), may_fail=True)
    html = await _converse(xss.base_url, (XSS_QUESTION,))
    return tools, failed, html


def record_history(path: Path) -> RecordedHistory:
    """Record the three conversations into a new sqlite file at `path`."""
    url = sqlite_url(path)
    assistants = (DEMO_ASSISTANT_ID, DEMO_ASSISTANT_ID, SCRIPTED_ASSISTANT_ID)
    with (
        recording(url),
        fast_emulator() as demo,
        fast_emulator(ScriptedModel([Fail(message=FAIL_MESSAGE)])) as failing,
        fast_emulator(ScriptedModel([Reply(XSS)])) as xss,
    ):
        ids = asyncio.run(_record_all(demo, failing, xss))
        for conversation_id, assistant_id in zip(ids, assistants, strict=True):
            publish_binding(conversation_id, assistant_id=assistant_id)
    return RecordedHistory(url, path, *ids)


@pytest.fixture(scope="session")
def recorded_db(tmp_path_factory: pytest.TempPathFactory) -> RecordedHistory:
    """The recorded database, made once per test session and only read afterwards."""
    path = tmp_path_factory.mktemp("history") / "history.db"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUOTE_SOURCE", "simulated")
        for name in [n for n in os.environ if n.startswith(("OPENAI_", "ASSISTANT_"))]:
            patch.delenv(name)
        return record_history(path)


MANY = 12
"""Conversations in `many_db`: more than the smallest page."""


@pytest.fixture(scope="session")
def many_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database of `MANY` one-exchange conversations with no tool call (for paging)."""
    url = sqlite_url(tmp_path_factory.mktemp("many") / "many.db")
    replies = [Reply(f"Reply number {i}.") for i in range(MANY)]
    with recording(url), fast_emulator(ScriptedModel(replies)) as server:
        for i in range(MANY):
            asyncio.run(_converse(server.base_url, (f"Question number {i}",)))
    return url


@pytest.fixture
def history_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, recorded_db: RecordedHistory
) -> RecordedHistory:
    """DATABASE_URL names the recorded database; the working directory is an empty folder."""
    monkeypatch.setenv("DATABASE_URL", recorded_db.url)
    monkeypatch.chdir(tmp_path)
    return recorded_db
