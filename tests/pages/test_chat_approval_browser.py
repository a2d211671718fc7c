"""Issue 12 on the chat page, in Chromium: Approve and Reject buttons in the conversation, the
input disabled until answered, and two browser sessions that never see each other's requests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.pages.conftest import (
    APP_WAIT_MS,
    BROWSER_TEST_TIMEOUT_S,
    clean_env,
    open_app,
    streamlit_server,
    wait_for_app_run,
)
from tests.pages.test_chat_browser import APP, send

pytestmark = pytest.mark.timeout(BROWSER_TEST_TIMEOUT_S)


def test_approve_and_reject_on_the_page_each_session_seeing_only_its_own_requests(
    browser: Any, tmp_path: Path
) -> None:
    env = clean_env(APPROVE_TOOLS="buy_or_sell")  # offline: the built-in emulator
    with streamlit_server(APP, env, tmp_path) as url:
        alice = browser.new_page(viewport={"width": 1280, "height": 900})
        bob = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            for page in (alice, bob):
                open_app(page, url)
            send(alice, "Should I buy MSFT?")
            send(bob, "Should I buy TSLA?")
            for page, mine, theirs in ((alice, "MSFT", "TSLA"), (bob, "TSLA", "MSFT")):
                main = page.locator("main")
                expect(page.get_by_role("button", name="Approve")).to_have_count(
                    1, timeout=APP_WAIT_MS
                )
                expect(main).to_contain_text(f"Approve buy_or_sell(symbol={mine}, price=")
                expect(main).to_contain_text("the APPROVE_TOOLS setting lists buy_or_sell")
                expect(main).to_contain_text("Waiting for your approval: 1 tool call")
                expect(main).not_to_contain_text(f"symbol={theirs}")
                expect(page.get_by_test_id("stChatInputTextArea")).to_be_disabled()

            alice.get_by_role("button", name="Approve").click()
            bob.get_by_role("button", name="Reject").click()

            answered = {
                alice: "For MSFT at",
                bob: "Understood: you declined the buy_or_sell check for TSLA",
            }
            for page, reply in answered.items():
                expect(page.locator("main")).to_contain_text(reply, timeout=APP_WAIT_MS)
                wait_for_app_run(page)
                expect(page.get_by_role("button", name="Approve")).to_have_count(0)
                expect(page.get_by_test_id("stChatInputTextArea")).to_be_enabled()
                # One prompt, the price lookup, buy_or_sell (run or declined), the reply.
                expect(page.get_by_test_id("stChatMessage")).to_have_count(4)
            bob_main = bob.locator("main")
            expect(bob_main).to_contain_text("not run: declined by the user")
            expect(alice.locator("main")).not_to_contain_text("declined")
        finally:
            alice.close()
            bob.close()
