"""The benchmarks' emulator, in a process of its own, so the client's CPU is the bench's alone.

    python -m bench.emulator_process --delay 0.3 --poll-after-ms 100

Prints its base URL on the first line of stdout, then answers one command per line on stdin:
`stats` prints `<requests served> <CPU seconds used>`; `audit` prints `<conversations and
threads held> <those not holding exactly one finished exchange with one tool call>` (a
duplicated message, call or output, or a run left active); `quit` (or end of input) stops it.
Every exchange is one tool call, then a reply; each model turn takes `--delay` seconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emulator import (  # noqa: E402
    CallTools,
    EmulatorServer,
    Fault,
    Holdings,
    Reply,
    ToolSpec,
    Turn,
    TurnContext,
)

#: What one exchange of `ToolThenReply` leaves: a question, a call, its output, the reply.
ONE_EXCHANGE = Holdings(
    user_messages=1, assistant_messages=1, function_calls=1, tool_outputs=1, active=0
)


@dataclass
class ToolThenReply:
    """Every exchange: one tool call, then a reply; each turn takes `delay` seconds."""

    delay: float

    def decide(self, context: TurnContext) -> Turn:
        if not context.tool_calls:
            return CallTools([ToolSpec("get_stock_price", {"symbol": "AAPL"})], delay=self.delay)
        return Reply("AAPL checked: 123.45 USD, simulated quote.", delay=self.delay)


def audit(server: EmulatorServer) -> str:
    """`<held> <off>`: every conversation or thread, and those whose holdings are not exactly
    one exchange's (an owner made but never asked counts as off too)."""
    owners = server.owners()
    off = sum(server.holdings(owner) != ONE_EXCHANGE for owner in owners)
    return f"{len(owners)} {off}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.3)
    parser.add_argument("--poll-after-ms", type=int, default=100)
    args = parser.parse_args()
    server = EmulatorServer(
        ToolThenReply(args.delay), poll_after_ms=args.poll_after_ms, queue_delay=0.0
    )
    with server:
        counter = server.faults.add(Fault(status=None, times=None))  # counts every request
        print(server.base_url, flush=True)
        for line in sys.stdin:
            command = line.strip()
            if command == "quit":
                break
            if command == "stats":
                print(f"{server.faults.fired(counter)} {time.process_time():.6f}", flush=True)
            if command == "audit":
                print(audit(server), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
