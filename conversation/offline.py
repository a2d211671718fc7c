"""The embedded offline default: one emulator per process, started on first use.

With no `OPENAI_API_KEY` the apps talk to `emulator/` on a free 127.0.0.1 port through the
real `openai` SDK, so everything runs without a key or a network. One line on stderr says so.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading

from emulator import DEMO_ASSISTANT_ID, EmulatorServer

#: Any non-empty string satisfies the SDK; the emulator ignores it. Not a secret.
OFFLINE_API_KEY = "offline-emulator"

_lock = threading.Lock()
_server: EmulatorServer | None = None


def embedded_emulator(*, announce: bool = True) -> EmulatorServer:
    """The process's emulator, started on the first call and stopped at interpreter exit."""
    global _server
    with _lock:
        if _server is None:
            server = EmulatorServer()
            server.start()
            atexit.register(server.stop)
            # Quotes from the offline demo are simulated, and labelled so in the tool output.
            os.environ.setdefault("QUOTE_SOURCE", "simulated")
            _server = server
            if announce:
                print(
                    f"No OPENAI_API_KEY set: using the built-in offline emulator at "
                    f"{server.base_url} (demo assistant {DEMO_ASSISTANT_ID}, simulated quotes).",
                    file=sys.stderr,
                )
        return _server


def stop_embedded_emulator() -> None:
    """Stop the embedded emulator (tests use this to start from a clean slate)."""
    global _server
    with _lock:
        if _server is not None:
            _server.stop()
            _server = None
