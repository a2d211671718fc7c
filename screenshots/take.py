"""Take the README's screenshots from the real pages in headless Chromium.

    python screenshots/take.py            # writes screenshots/chat.png (and hist.png)

The chat page runs on the offline default (built-in emulator, simulated quotes) in a scratch
directory, so no `.env` or key of yours is used. `hist.png` is taken only when
`streamlit-history.py` exists. Needs Debian's chromium (`apt install chromium`) and the
`playwright` Python package; no browser download.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 900}
GRID = "iframe[title='st_aggrid.AgGrid.agGrid']"
PROMPT = "Should I buy MSFT and TSLA?"
WAIT_MS = 30_000
HISTORY_PROMPT = "What is the price of AAPL?"  # a second run, so the history has two
SETTING_PREFIXES = (
    "OPENAI_",
    "ASSISTANT_",
    "MEDIATOR_",
    "QUOTE_",
    "EXCHANGE_",
    "TOOL_",
    "DELIVERY",
    "DATABASE_",
    "RECORD_",
    "HISTORY_",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def clean_env(workdir: Path) -> dict[str, str]:
    """No key and no settings of yours; the history goes to a database in `workdir`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTING_PREFIXES)}
    env["PYTHONPATH"] = str(ROOT)
    env["DATABASE_URL"] = "sqlite:///history.db"  # relative: the servers run in `workdir`
    return env


@contextmanager
def serve(script: str, workdir: Path, env: dict[str, str]) -> Iterator[str]:
    """`streamlit run script` in `workdir` with `env`; yields the URL once healthy."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    flags = ["--server.headless", "true", "--server.port", str(port)]
    flags += ["--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    flags += ["--global.developmentMode", "false", "--server.fileWatcherType", "none"]
    flags += ["--client.toolbarMode", "viewer"]  # no "Deploy" button in the pictures
    log = (workdir / f"{Path(script).stem}.log").open("w")
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / script), *flags]
    process = subprocess.Popen(command, cwd=workdir, env=env, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 45
        while not _healthy(url):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{script} did not start; see {log.name}")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def wait_for_app_run(page: Any) -> None:
    """Streamlit's own end-to-end wait: connected, script finished, no skeleton left."""
    page.wait_for_timeout(210)
    app = "[data-testid='stApp']"
    page.locator(f"{app}[data-test-connection-state='CONNECTED']").wait_for(
        state="attached", timeout=WAIT_MS
    )
    page.locator(f"{app}[data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=WAIT_MS
    )
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=WAIT_MS)


def open_page(browser: Any, url: str) -> Any:
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(url)
    page.wait_for_selector("[data-testid='stAppViewContainer']", state="attached", timeout=WAIT_MS)
    wait_for_app_run(page)
    return page


def fit_to_content(page: Any) -> None:
    """Grow the viewport to the content: Streamlit scrolls inside the page, so a full-page
    screenshot alone would cut the top of a long conversation off."""
    height = page.evaluate(
        """() => Math.max(...['main', '[data-testid="stSidebarContent"]'].map(
            (selector) => document.querySelector(selector)?.scrollHeight || 0))"""
    )
    page.set_viewport_size({"width": VIEWPORT["width"], "height": max(VIEWPORT["height"], height)})
    wait_for_app_run(page)
    page.evaluate("() => document.querySelector('main')?.scrollTo(0, 0)")


def ask(page: Any, prompt: str, replies: int) -> None:
    page.get_by_test_id("stChatInputTextArea").fill(prompt)
    page.keyboard.press("Enter")
    assistant = page.get_by_test_id("stChatMessageAvatarAssistant")
    expect(assistant).to_have_count(replies, timeout=WAIT_MS)
    wait_for_app_run(page)


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
    wait_for_app_run(page)


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
    if not Path(CHROMIUM).exists():
        print("Debian chromium not installed: apt install chromium", file=sys.stderr)
        return 1
    history = (ROOT / "streamlit-history.py").exists()
    if not history:
        print("streamlit-history.py does not exist yet: hist.png not taken")
    with tempfile.TemporaryDirectory(prefix="screenshots-") as scratch, sync_playwright() as pw:
        workdir = Path(scratch)
        env = clean_env(workdir)
        setup = [sys.executable, str(ROOT / "db_setup.py")]
        subprocess.run(setup, cwd=workdir, env=env, check=True, capture_output=True)
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            print(f"wrote {take_chat(browser, workdir, env, more=history).relative_to(ROOT)}")
            if history:
                print(f"wrote {take_history(browser, workdir, env).relative_to(ROOT)}")
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
