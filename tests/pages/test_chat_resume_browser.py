"""Issue 10 on the chat page: `?conversation=ID` finishes an exchange whose process died.

A conversation runs in a child process (`tests.persistence.kill_child`) that is killed with
SIGKILL while the model is thinking. The chat page, opened on the conversation's URL in
Chromium, redraws the message, adopts the run on the server, runs the tool the run then asks
for, and shows the reply; the server holds each item once.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import expect

from emulator import CallTools, EmulatorServer, Holdings, Reply, ScriptedModel, ToolSpec
from tests.pages.conftest import (
    APP_WAIT_MS,
    BROWSER_TEST_TIMEOUT_S,
    ROOT,
    clean_env,
    open_app,
    streamlit_server,
    wait_for_app_run,
)

pytestmark = pytest.mark.timeout(BROWSER_TEST_TIMEOUT_S)

T = TypeVar("T")
SLOW_TURN_S = 2.0


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 90.0) -> T:
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout} s")
        time.sleep(0.01)
    return value


def test_reopened_page_finishes_the_exchange_a_killed_process_left(
    browser: Any, tmp_path: Path
) -> None:
    model = ScriptedModel(
        [
            CallTools([ToolSpec("get_stock_price", {"symbol": "AAPL"})], delay=SLOW_TURN_S),
            Reply("AAPL is at the price the tool gave."),
        ]
    )
    db = f"sqlite:///{tmp_path}/conversations.db"
    with EmulatorServer(model, poll_after_ms=10, queue_delay=0.0) as server:
        env = clean_env(COUNTER_FILE=str(tmp_path / "counter"), BLOCK_FILE=str(tmp_path / "no"))
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.persistence.kill_child", "start"]
            + ["--base-url", server.base_url, "--db", db]
            + ["--protocol", "responses", "--delivery", "stream"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert child.stdout is not None
            first = child.stdout.readline()
            assert first.startswith("CONVERSATION "), first
            conversation_id = first.split(" ", 1)[1].strip()
            wait_for(lambda: server.holdings(conversation_id).active, "the model is thinking")
            child.send_signal(signal.SIGKILL)
            assert child.wait(timeout=60) == -signal.SIGKILL
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=60)
            if child.stdout is not None:
                child.stdout.close()

        page_env = clean_env(
            OPENAI_API_KEY="some-test-key",
            OPENAI_BASE_URL=server.base_url,
            DATABASE_URL=db,
            ASSISTANT_BACKEND="responses",
        )
        with streamlit_server("streamlit-chat.py", page_env, tmp_path) as url:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            open_app(page, f"{url}/?conversation={conversation_id}")
            messages = page.get_by_test_id("stChatMessage")
            expect(messages.nth(0)).to_contain_text("What is the price of AAPL?")
            expect(page.get_by_test_id("stChatMessageAvatarAssistant")).to_have_count(
                1, timeout=APP_WAIT_MS
            )
            wait_for_app_run(page)
            expect(messages).to_have_count(3)
            expect(messages.nth(1)).to_contain_text("get_stock_price(symbol=AAPL) → price=")
            expect(messages.nth(2)).to_contain_text("AAPL is at the price the tool gave.")
            assert f"conversation={conversation_id}" in page.url
            page.close()
        assert server.holdings(conversation_id) == Holdings(
            user_messages=1, assistant_messages=1, function_calls=1, tool_outputs=1, active=0
        )
    assert not (tmp_path / "counter").exists()  # the killed process never reached its tool
