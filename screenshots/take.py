"""Take the README's screenshots from the real pages in headless Chromium.

    python screenshots/take.py            # writes screenshots/chat.png (and hist.png)

The chat page runs on the offline default (built-in emulator, simulated quotes) in a scratch
directory, so no `.env` or key of yours is used. `hist.png` is taken only when
`streamlit-history.py` exists. Needs Debian's chromium (`apt install chromium`) and the
`playwright` Python package; no browser download.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from screenshots.browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    clean_env,
    open_app,
    streamlit_process,
    wait_for_app_run,
)

OUT = ROOT / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}
GRID = "iframe[title='st_aggrid.AgGrid.agGrid']"
PROMPT = "Should I buy MSFT and TSLA?"
WAIT_MS = 30_000
HISTORY_PROMPT = "What is the price of AAPL?"  # a second run, so the history has two


def workdir_env() -> dict[str, str]:
    """No key and no settings of yours; the history goes to a database in the work dir."""
    return clean_env(DATABASE_URL="sqlite:///history.db")  # relative: servers run there


@contextmanager
def serve(script: str, workdir: Path, env: dict[str, str]) -> Iterator[str]:
    """`streamlit run script` in `workdir` with `env`; yields the URL once healthy."""
    log_path = workdir / f"{Path(script).stem}.log"
    viewer = ["--client.toolbarMode", "viewer"]  # no "Deploy" button in the pictures
    with streamlit_process(script, env, workdir, log_path=log_path, extra_flags=viewer) as url:
        yield url


def open_page(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport=VIEWPORT)
    open_app(page, url, WAIT_MS)
    return page


def fit_to_content(page: Any) -> None:
    """Grow the viewport to the content: Streamlit scrolls inside the page, so a full-page
    screenshot alone would cut the top of a long conversation off."""
    height = page.evaluate(
        """() => Math.max(...['main', '[data-testid="stSidebarContent"]'].map(
            (selector) => document.querySelector(selector)?.scrollHeight || 0))"""
    )
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], height)})
    wait_for_app_run(page, WAIT_MS)
    page.evaluate("() => document.querySelector('main')?.scrollTo(0, 0)")


def ask(page: Any, prompt: str, replies: int) -> None:
    page.get_by_test_id("stChatInputTextArea").fill(prompt)
    page.keyboard.press("Enter")
    assistant = page.get_by_test_id("stChatMessageAvatarAssistant")
    expect(assistant).to_have_count(replies, timeout=WAIT_MS)
    wait_for_app_run(page, WAIT_MS)


def take_chat(browser: Any, workdir: Path, env: dict[str, str], *, more: bool) -> Path:
    """One exchange with tool calls, pictured; with `more`, a second one for the history."""
    with serve("streamlit-chat.py", workdir, env) as url:
        page = open_page(browser, url)
        ask(page, PROMPT, 1)
        expect(page.get_by_test_id("stChatMessageAvatarCustom")).not_to_have_count(0)
        page.evaluate("() => document.activeElement?.blur()")  # no focus ring on the input
        fit_to_content(page)
        path = OUT / "chat.png"
        page.screenshot(path=str(path), full_page=True)
        if more:
            ask(page, HISTORY_PROMPT, 2)
        page.close()
        return path  # leaving the block stops the server, which flushes the recorded events


def click_row(page: Any, level: int, text: str) -> None:
    """Select the first row holding `text` in the AgGrid of `level` (0, 1, 2: the drill-down)."""
    grids = page.locator(GRID)
    expect(grids).to_have_count(level + 1, timeout=WAIT_MS)
    row = page.frame_locator(GRID).nth(level).locator(".ag-row").filter(has_text=text).first
    expect(row).to_be_visible(timeout=WAIT_MS)
    row.click()
    wait_for_app_run(page, WAIT_MS)


def take_history(browser: Any, workdir: Path, env: dict[str, str]) -> Path:
    """The history page on the conversation just recorded, drilled down to a run's events."""
    with serve("streamlit-history.py", workdir, env) as url:
        page = open_page(browser, url)
        click_row(page, 0, "MSFT")
        click_row(page, 1, "completed")
        page.evaluate("() => document.activeElement?.blur()")
        fit_to_content(page)
        path = OUT / "hist.png"
        page.screenshot(path=str(path), full_page=True)
        page.close()
        return path


def main() -> int:
    if not CHROMIUM.exists():
        print("Debian chromium not installed: apt install chromium", file=sys.stderr)
        return 1
    history = (ROOT / "streamlit-history.py").exists()
    if not history:
        print("streamlit-history.py does not exist yet: hist.png not taken")
    with tempfile.TemporaryDirectory(prefix="screenshots-") as scratch, sync_playwright() as pw:
        workdir = Path(scratch)
        env = workdir_env()
        setup = [sys.executable, str(ROOT / "db_setup.py")]
        subprocess.run(setup, cwd=workdir, env=env, check=True, capture_output=True)
        browser = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            print(f"wrote {take_chat(browser, workdir, env, more=history).relative_to(ROOT)}")
            if history:
                print(f"wrote {take_history(browser, workdir, env).relative_to(ROOT)}")
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
