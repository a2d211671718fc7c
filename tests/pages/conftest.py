"""Shared fixtures for the Streamlit pages: a clean environment, a real server, a real browser.

Browser test modules set `pytestmark = pytest.mark.timeout(BROWSER_TEST_TIMEOUT_S)`: their waits
are bounded by `APP_WAIT_MS` each, not by the suite's 60 s per test.

`streamlit_server(script, env, cwd)` runs `streamlit run` as a subprocess and yields its URL
once `/_stcore/health` answers; `browser` is Debian's chromium driven by Playwright (tests that
need it are skipped, with the reason, when /usr/bin/chromium is absent). `wait_for_app_run`
waits the way Streamlit's own end-to-end suite does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from screenshots.browser import (  # noqa: F401  (re-exported for the page tests)
    APP_WAIT_MS,
    BROWSER_TEST_TIMEOUT_S,
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    SETTING_PREFIXES,
    clean_env,
    open_app,
    streamlit_process,
    wait_for_app_run,
)


@contextmanager
def streamlit_server(script: str | Path, env: dict[str, str], cwd: Path) -> Iterator[str]:
    """`streamlit_process` for tests: a server that never comes up fails the test with its log."""
    log_path = cwd / "streamlit.log"
    started = False
    try:
        with streamlit_process(script, env, cwd, log_path=log_path) as url:
            started = True
            yield url
    except RuntimeError as exc:
        if started:  # raised by the test itself, not by the server's start
            raise
        pytest.fail(f"{exc}:\n{log_path.read_text()}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian chromium, shared by one test module.

    Module scope, not session: Playwright's sync API keeps an event loop marked as running in
    the main thread while it is open, which would break async tests collected after it.
    """
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed: apt install chromium")
    from playwright.sync_api import expect, sync_playwright

    # Every `expect` waits as long as a busy machine may need, not Playwright's 5 s.
    expect.set_options(timeout=APP_WAIT_MS)
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
