"""Shared fixtures for the Streamlit pages: a clean environment, a real server, a real browser.

`streamlit_server(script, env, cwd)` runs `streamlit run` as a subprocess and yields its URL
once `/_stcore/health` answers; `browser` is Debian's chromium driven by Playwright (tests that
need it are skipped, with the reason, when /usr/bin/chromium is absent). `wait_for_app_run`
waits the way Streamlit's own end-to-end suite does.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Every setting the toolkit reads; tests start from none of them.
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
SERVER_START_S = 45.0
APP_WAIT_MS = 25_000


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a fresh machine (no key, no settings) with the repo importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SETTING_PREFIXES)}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def streamlit_server(script: str | Path, env: dict[str, str], cwd: Path) -> Iterator[str]:
    """Run `streamlit run script` on a free loopback port; yield its URL once it is healthy.

    The server's output goes to `cwd/streamlit.log`, quoted in the failure if it never comes up.
    """
    port = free_port()
    log_path = cwd / "streamlit.log"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / script),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    url = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + SERVER_START_S
            while not _healthy(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"streamlit did not come up on {url}:\n{log_path.read_text()}")
                time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def wait_for_app_run(page: Any) -> None:
    """Wait until the script run has finished and the page is drawn (Streamlit's e2e wait)."""
    from playwright.sync_api import expect

    page.wait_for_timeout(210)
    page.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']").wait_for(
        state="attached", timeout=APP_WAIT_MS
    )
    page.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=APP_WAIT_MS
    )
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=APP_WAIT_MS)


def open_app(page: Any, url: str) -> None:
    """Load the page and wait for its first run to finish."""
    page.goto(url)
    page.wait_for_selector(
        "[data-testid='stAppViewContainer']", state="attached", timeout=APP_WAIT_MS
    )
    wait_for_app_run(page)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian chromium, shared by one test module.

    Module scope, not session: Playwright's sync API keeps an event loop marked as running in
    the main thread while it is open, which would break async tests collected after it.
    """
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed: apt install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """For AppTest (in-process): no settings but simulated quotes, and a cwd with no `.env`.

    Recording is off: the recorder is one per process and would outlive the test's directory.
    """
    for name in list(os.environ):
        if name.startswith(SETTING_PREFIXES):
            monkeypatch.delenv(name)
    monkeypatch.setenv("QUOTE_SOURCE", "simulated")
    monkeypatch.setenv("RECORD_EVENTS", "false")
    monkeypatch.chdir(tmp_path)
    return tmp_path
