"""The conversation just held on the chat page shows up on the history page (both real
`streamlit run` processes, one database, headless Chromium)."""

from __future__ import annotations

import re
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

pytestmark = pytest.mark.timeout(BROWSER_TEST_TIMEOUT_S)
GRID = "iframe[title='st_aggrid.AgGrid.agGrid']"


def test_history_page_shows_the_conversation_just_held(browser: Any, tmp_path: Path) -> None:
    env = clean_env(DATABASE_URL=f"sqlite:///{tmp_path / 'shared.db'}", RECORD_EVENTS="true")
    with streamlit_server("streamlit-chat.py", env, tmp_path) as chat_url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        open_app(page, chat_url)
        page.get_by_test_id("stChatInputTextArea").fill("What is the price of NVDA?")
        page.keyboard.press("Enter")
        expect(page.get_by_test_id("stChatMessageAvatarAssistant")).to_have_count(
            1, timeout=APP_WAIT_MS
        )
        wait_for_app_run(page)
        caption = page.locator("main").get_by_test_id("stCaptionContainer").first
        expect(caption).to_contain_text("conversation conv_")
        conversation_id = re.search(r"conv_[0-9a-f]+", caption.inner_text())
        assert conversation_id, caption.inner_text()
        page.close()
    with streamlit_server("streamlit-history.py", env, tmp_path) as history_url:
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        open_app(page, history_url)
        grid = page.frame_locator(GRID).first
        expect(grid.get_by_text(conversation_id.group(0))).to_be_visible(timeout=APP_WAIT_MS)
        expect(grid.get_by_text("What is the price of NVDA?")).to_be_visible()
        page.close()
