"""A process that converses until SIGTERM, for the shutdown test.

    python -m tests.persistence.sigterm_child --url URL

Records with `start_recording` (which installs the recorder's SIGTERM handler over this
script's own). Prints ``conversing`` once the first conversation is done, then keeps
conversing. On SIGTERM the recorder's handler flushes, then chains to this script's handler,
which prints ``published N`` (every event published so far) and ends the process at once with
``os._exit``: no ``atexit``, no close, so only the signal handler's flush can have stored them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from types import FrameType

from emulator import EmulatorServer
from persistence import start_recording
from tests.persistence.support import QUESTIONS, EventLog, open_chat


async def converse_forever(base_url: str) -> None:
    index = 0
    while True:
        user = open_chat(base_url)
        try:
            for question in QUESTIONS:
                await user.ask(question)
        finally:
            await user.aclose()
        if index == 0:
            print("conversing", flush=True)
        index += 1


def main(url: str) -> None:
    log = EventLog().start()

    def report_and_exit(signum: int, frame: FrameType | None) -> None:
        sys.stdout.write(f"published {len(log.events)}\n")
        sys.stdout.flush()
        os._exit(0)

    signal.signal(signal.SIGTERM, report_and_exit)
    server = EmulatorServer(poll_after_ms=10, queue_delay=0.0)
    server.start()
    start_recording(url)
    asyncio.run(converse_forever(server.base_url))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    os.environ.setdefault("QUOTE_SOURCE", "simulated")
    main(parser.parse_args().url)
