"""The terminal chat ends cleanly on Ctrl-C and works on a real terminal (a pty)."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.apps.test_entry_points import ROOT, _clean_env


def _read_until(fd: int, marker: bytes, within_s: float) -> bytes:
    """Read from `fd` until `marker` appears; fail when the deadline passes."""
    deadline = time.monotonic() + within_s
    seen = b""
    while marker not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"did not see {marker!r} within {within_s} s; got {seen!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the pty closes when the child exits
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_ctrl_c_at_the_prompt_ends_cleanly(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "terminal_chat.py")],
        stdin=subprocess.PIPE,  # kept open: the chat waits for input when Ctrl-C comes
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env=_clean_env(tmp_path),
    )
    try:
        assert proc.stderr is not None
        _read_until(proc.stderr.fileno(), b"offline emulator", within_s=30)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert b"Traceback" not in err


def test_interactive_terminal_session(tmp_path: Path) -> None:
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "terminal_chat.py")],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        cwd=tmp_path,
        env=_clean_env(tmp_path),
        close_fds=True,
    )
    os.close(terminal)
    try:
        _read_until(controller, b"User: ", within_s=30)
        os.write(controller, b"What is the price of MSFT?\n")
        # The reply, then the next prompt (they may arrive in one chunk).
        reply = _read_until(controller, b"quote).", within_s=30)
        if not reply.rstrip().endswith(b"User:"):
            reply += _read_until(controller, b"User: ", within_s=10)
        assert b"System: get_stock_price" in reply
        assert b"MSFT is trading at" in reply
        os.write(controller, b"exit\n")
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(controller)
