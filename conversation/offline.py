"""The embedded offline default: one emulator per process, started on first use.

With no `OPENAI_API_KEY` the apps talk to `emulator/` on a free 127.0.0.1 port through the
real `openai` SDK, so everything runs without a key or a network. One line on stderr says so.
The emulator is imported only here, on first use: a process that talks to a real server never
loads it. Its server thread is a daemon, so it ends with the process; no exit hook is needed.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING

from conversation.demo import DEMO_ASSISTANT_ID

if TYPE_CHECKING:
    from emulator import EmulatorServer

#: Any non-empty string satisfies the SDK; the emulator ignores it. Not a secret.
OFFLINE_API_KEY = "offline-emulator"

_lock = threading.Lock()
_server: EmulatorServer | None = None


def embedded_emulator(*, announce: bool = True, assistant_id: str | None = None) -> EmulatorServer:
    """The process's emulator, started on the first call and stopped at interpreter exit.

    The line announcing it names the assistant in use: `assistant_id` when one is set (a wrong
    one is then named as the one asked for, not hidden behind the demo's), else the demo's.
    """
    global _server
    with _lock:
        if _server is None:
            from emulator import EmulatorServer

            server = EmulatorServer()
            server.start()
            _server = server
            if announce:
                chosen = (
                    f"assistant {assistant_id}"
                    if assistant_id and assistant_id != DEMO_ASSISTANT_ID
                    else f"demo assistant {DEMO_ASSISTANT_ID}"
                )
                print(
                    f"No OPENAI_API_KEY set: using the built-in offline emulator at "
                    f"{server.base_url} ({chosen}, simulated quotes).",
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
