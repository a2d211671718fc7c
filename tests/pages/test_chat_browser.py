"""streamlit-chat.py as people use it: `streamlit run` in a subprocess, headless Chromium."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from emulator import CallTools, EmulatorServer, Reply, ScriptedModel, ToolSpec, Turn, TurnContext
from tests.pages.conftest import (
    APP_WAIT_MS,
    BROWSER_TEST_TIMEOUT_S,
    clean_env,
    open_app,
    streamlit_server,
    wait_for_app_run,
)

APP = "streamlit-chat.py"
TOOL_CALL_SHOWN = "get_stock_price(symbol=MSFT) → price="

pytestmark = pytest.mark.timeout(BROWSER_TEST_TIMEOUT_S)


@pytest.fixture
def offline_app(tmp_path: Path) -> Iterator[str]:
    """The chat page on a fresh machine: no key, so the built-in emulator serves it."""
    with streamlit_server(APP, clean_env(), tmp_path) as url:
        yield url


def send(page: Any, prompt: str) -> None:
    page.get_by_test_id("stChatInputTextArea").fill(prompt)
    page.keyboard.press("Enter")


def main_heading(page: Any) -> Any:
    return page.locator("main").get_by_test_id("stHeading").first


def test_exchange_with_tool_calls_on_the_real_page(browser: Any, offline_app: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    open_app(page, offline_app)
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Offline demo")
    expect(main_heading(page)).to_have_text("New conversation")

    send(page, "Should I buy MSFT?")
    expect(page.get_by_test_id("stChatMessageAvatarAssistant")).to_have_count(
        1, timeout=APP_WAIT_MS
    )
    wait_for_app_run(page)

    messages = page.get_by_test_id("stChatMessage")
    expect(messages).to_have_count(4)
    expect(page.get_by_test_id("stChatMessageAvatarCustom")).to_have_count(2)
    expect(messages.nth(1)).to_contain_text(TOOL_CALL_SHOWN)
    expect(messages.nth(2)).to_contain_text("buy_or_sell(symbol=MSFT, price=")
    expect(messages.nth(3)).to_contain_text("For MSFT at")
    expect(messages.nth(3)).to_contain_text("Completed: 2 tool calls")
    expect(main_heading(page)).to_have_text("Should I buy MSFT?")
    expect(page.locator("main")).to_contain_text(_conversation_id_pattern())
    # The call's whole output is one click away, as text.
    details = messages.nth(1).get_by_test_id("stExpander")
    output = details.get_by_test_id("stCode").nth(1)
    expect(output).to_be_hidden()
    details.get_by_text("Input and output").click()
    expect(output).to_be_visible()
    expect(output).to_contain_text('"source": "simulated"')
    page.close()


def test_two_browsers_each_see_only_their_own_conversation(browser: Any, offline_app: str) -> None:
    alice = browser.new_context(viewport={"width": 1280, "height": 900})
    bob = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        pages = {"alice": alice.new_page(), "bob": bob.new_page()}
        for page in pages.values():
            open_app(page, offline_app)
        send(pages["alice"], "What is the price of AAPL?")
        send(pages["bob"], "What is the price of NVDA?")  # both exchanges run at once
        for page in pages.values():
            expect(page.get_by_test_id("stChatMessageAvatarAssistant")).to_have_count(
                1, timeout=APP_WAIT_MS
            )
            wait_for_app_run(page)

        main = {name: page.locator("main") for name, page in pages.items()}
        expect(main["alice"]).to_contain_text("AAPL")
        expect(main["alice"]).not_to_contain_text("NVDA")
        expect(main["bob"]).to_contain_text("NVDA")
        expect(main["bob"]).not_to_contain_text("AAPL")
        ids = {name: conversation_id(page) for name, page in pages.items()}
        assert ids["alice"] != ids["bob"]
        for page in pages.values():
            expect(page.get_by_test_id("stChatMessage")).to_have_count(3)

        # A reload is a new session: the URL names Bob's conversation, so it is rebuilt from
        # the recorded history, tool call included, and stays his.
        assert f"conversation={ids['bob']}" in pages["bob"].url
        pages["bob"].reload()
        wait_for_app_run(pages["bob"])
        expect(pages["bob"].get_by_test_id("stChatMessage")).to_have_count(3)
        expect(main["bob"]).to_contain_text("get_stock_price(symbol=NVDA) → price=")
        expect(main["bob"]).not_to_contain_text("AAPL")
        expect(main_heading(pages["bob"])).to_have_text("What is the price of NVDA?")
        assert conversation_id(pages["bob"]) == ids["bob"]
        expect(pages["alice"].get_by_test_id("stChatMessage")).to_have_count(3)
        # New conversation leaves it: an empty page, and the URL follows.
        sidebar = pages["bob"].get_by_test_id("stSidebar")
        sidebar.get_by_role("button", name="New conversation").click()
        wait_for_app_run(pages["bob"])
        expect(pages["bob"].get_by_test_id("stChatMessage")).to_have_count(0)
        expect(main_heading(pages["bob"])).to_have_text("New conversation")
        expect(pages["bob"]).not_to_have_url(re.compile(ids["bob"]))
    finally:
        alice.close()
        bob.close()


class GatedModel:
    """A scripted model whose reply waits until the test opens the gate.

    The run stays active for exactly as long as the test needs to look at the page, however
    slow the machine: no guess at how long "still running" lasts.
    """

    def __init__(self, turns: list[Turn]) -> None:
        self.scripted = ScriptedModel(turns)
        self.gate = threading.Event()

    def decide(self, context: TurnContext) -> Turn:
        if self.scripted.used >= 1:  # the turn after the tool call: the reply
            self.gate.wait(timeout=APP_WAIT_MS / 1000 * 3)
        return self.scripted.decide(context)


def test_progress_is_shown_live_and_input_disabled_while_the_run_is_active(
    browser: Any, tmp_path: Path
) -> None:
    model = GatedModel(
        [
            CallTools([ToolSpec("get_stock_price", {"symbol": "MSFT"})]),
            Reply("Done after a slow turn."),
        ]
    )
    with EmulatorServer(model, poll_after_ms=50, queue_delay=0.0) as server:
        env = clean_env(
            OPENAI_API_KEY="some-test-key",
            OPENAI_BASE_URL=server.base_url,
            ASSISTANT_ID="asst_demo_stock",
            QUOTE_SOURCE="simulated",
        )
        try:
            with streamlit_server(APP, env, tmp_path) as url:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                open_app(page, url)
                send(page, "Is MSFT a buy?")

                # The tool call shows up while the run is still going: the reply is held back.
                system = page.get_by_test_id("stChatMessage").filter(
                    has=page.get_by_test_id("stChatMessageAvatarCustom")
                )
                expect(system).to_contain_text(TOOL_CALL_SHOWN, timeout=APP_WAIT_MS)
                reply = page.get_by_test_id("stChatMessage").filter(
                    has=page.get_by_test_id("stChatMessageAvatarAssistant")
                )
                status = reply.get_by_test_id("stExpander").first
                expect(status).to_contain_text("Running", timeout=APP_WAIT_MS)
                expect(page.get_by_test_id("stChatInputTextArea")).to_be_disabled()
                expect(reply).not_to_contain_text("Done after a slow turn.")

                model.gate.set()
                expect(reply).to_contain_text("Done after a slow turn.", timeout=APP_WAIT_MS)
                wait_for_app_run(page)
                expect(page.get_by_test_id("stChatInputTextArea")).to_be_enabled(
                    timeout=APP_WAIT_MS
                )
                expect(status).to_contain_text("Completed: 1 tool call", timeout=APP_WAIT_MS)
                page.close()
        finally:
            model.gate.set()  # never leave the emulator's worker thread blocked


def _conversation_id_pattern() -> re.Pattern[str]:
    return re.compile(r"conversation ([a-z]+_[0-9A-Za-z]+)")


def conversation_id(page: Any) -> str:
    """The conversation id the page names under its heading."""
    match = _conversation_id_pattern().search(page.locator("main").inner_text())
    assert match, page.locator("main").inner_text()
    return match.group(1)
