"""A writer process for the concurrency tests: real conversations, recorded, then a report.

    python -m tests.persistence.writer --url URL [--conversations 20] [--parallel 5]

Starts its own emulator, records into URL (the schema must exist), runs the conversations
(`--parallel` at a time) and prints one JSON line: the events it published per session and
whether the recorder stored them all on close.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os

from emulator import EmulatorServer
from persistence import Recorder
from tests.persistence.support import QUESTIONS, EventLog, open_chat


async def converse(base_url: str, index: int) -> None:
    user = open_chat(base_url, mediator_type="basic" if index % 2 else "stateMachine")
    try:
        await user.ask(QUESTIONS[index % len(QUESTIONS)])
    finally:
        await user.aclose()


async def main(url: str, conversations: int, parallel: int) -> dict[str, object]:
    server = EmulatorServer(poll_after_ms=10, queue_delay=0.0)
    server.start()
    recorder = Recorder(url, batch_size=50, flush_interval_s=0.02, auto_migrate=False).start()
    log = EventLog().start()
    try:
        for first in range(0, conversations, parallel):
            batch = range(first, min(first + parallel, conversations))
            await asyncio.gather(*(converse(server.base_url, i) for i in batch))
    finally:
        log.stop()
        stored_all = recorder.close(timeout_s=30)
        server.stop()
    return {"published": dict(log.per_session()), "stored_all": stored_all, "pid": os.getpid()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("QUOTE_SOURCE", "simulated")
    print(json.dumps(asyncio.run(main(args.url, args.conversations, args.parallel))), flush=True)
