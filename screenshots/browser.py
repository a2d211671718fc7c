"""Running the Streamlit pages for a browser: shared by `take.py` and the page tests.

`streamlit_process(script, env, cwd)` runs `streamlit run` on a free loopback port and
yields its URL once `/_stcore/health` answers; `open_app` and `wait_for_app_run` wait the way
Streamlit's own end-to-end suite does; Debian's chromium is driven with the flags that keep
it off the (closed) network.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
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
#: Every setting the toolkit reads; a fresh machine has none of them.
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
# Generous bounds: a busy 2-core machine may take a minute to start a server or finish a
# run. Waits end as soon as the state they wait for is there, so a fast machine is not slowed.
SERVER_START_S = 120.0
APP_WAIT_MS = 90_000
STOP_S = 10.0
"""How long a server may take to exit after SIGTERM (then SIGKILL), and after SIGKILL."""
BROWSER_TEST_TIMEOUT_S = 600
"""pytest-timeout for one browser test: several `APP_WAIT_MS` waits and a server start."""


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


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextmanager
def streamlit_process(
    script: str | Path,
    env: dict[str, str],
    cwd: Path,
    *,
    log_path: Path,
    extra_flags: Sequence[str] = (),
) -> Iterator[str]:
    """Run `streamlit run script` on a free loopback port; yield its URL once healthy.

    Raises `RuntimeError` (with the server's output in `log_path`) if it does not come up.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    flags = ["--server.headless", "true", "--server.port", str(port)]
    flags += ["--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    flags += ["--global.developmentMode", "false", "--server.fileWatcherType", "none"]
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / script), *flags, *extra_flags]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + SERVER_START_S
            while not healthy(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{script} did not come up on {url}; see {log_path}")
                time.sleep(0.1)
            yield url
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `STOP_S`: never waits forever."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_S)
    except subprocess.TimeoutExpired:
        process.kill()
        try:
            process.wait(timeout=STOP_S)
        except subprocess.TimeoutExpired:  # unkillable (stuck in the kernel): leave it
            pass


def wait_for_app_run(page: Any, timeout_ms: int = APP_WAIT_MS) -> None:
    """Wait until the script run has finished and the page is drawn (Streamlit's e2e wait)."""
    from playwright.sync_api import expect

    # Streamlit's own e2e harness pauses here: an action's rerun may not have flipped the
    # script state to "running" yet. Callers then wait for the state they need.
    page.wait_for_timeout(210)
    app = "[data-testid='stApp']"
    page.locator(f"{app}[data-test-connection-state='CONNECTED']").wait_for(
        state="attached", timeout=timeout_ms
    )
    page.locator(f"{app}[data-test-script-state='notRunning']").wait_for(
        state="attached", timeout=timeout_ms
    )
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=timeout_ms)


def open_app(page: Any, url: str, timeout_ms: int = APP_WAIT_MS) -> None:
    """Load the page and wait for its first run to finish."""
    page.goto(url)
    page.wait_for_selector(
        "[data-testid='stAppViewContainer']", state="attached", timeout=timeout_ms
    )
    wait_for_app_run(page, timeout_ms)
