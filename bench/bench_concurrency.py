"""Fifty conversations in one process against the emulator, against one on its own.

    python -m bench.bench_concurrency [--conversations 50] [--delay 0.5]

Nothing in the toolkit may block the event loop, so fifty concurrent exchanges should take
about as long as one. Writes `bench/results/concurrency.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_exchange import ToolThenReply  # noqa: E402
from conversation.wiring import wire_to_server  # noqa: E402
from emulator import EmulatorServer  # noqa: E402
from proxies.policy import ExchangePolicy  # noqa: E402
from proxies.user_proxy import UserProxy  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "concurrency.md"
POLICY = ExchangePolicy(deadline_s=60, poll_initial_s=0.05, poll_max_s=0.2)


async def _chat(server: EmulatorServer, protocol: str, delivery: str) -> UserProxy:
    user = wire_to_server(server.base_url, protocol=protocol, delivery=delivery, policy=POLICY)
    await user.open()
    return user


async def _timed(users: list[UserProxy]) -> float:
    start = time.perf_counter()
    await asyncio.gather(*(u.ask("price of AAPL") for u in users))
    return time.perf_counter() - start


async def measure(protocol: str, delivery: str, n: int, delay: float) -> tuple[float, float]:
    with EmulatorServer(ToolThenReply(delay), poll_after_ms=100, queue_delay=0.0) as server:
        one = [await _chat(server, protocol, delivery)]
        many = [await _chat(server, protocol, delivery) for _ in range(n)]
        try:
            return await _timed(one), await _timed(many)
        finally:
            for user in one + many:
                await user.aclose()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.5, help="seconds per model turn")
    args = parser.parse_args()
    os.environ.setdefault("QUOTE_SOURCE", "simulated")
    lines = [
        f"{args.conversations} concurrent conversations vs one; each exchange is one tool call "
        f"and a reply, model turns of {args.delay:g} s; {os.cpu_count()} cores.",
        "",
        f"| protocol | delivery | one (s) | {args.conversations} concurrent (s) | ratio |",
        "|---|---|---|---|---|",
    ]
    for protocol in ("assistants", "responses"):
        for delivery in ("poll", "stream"):
            one, many = await measure(protocol, delivery, args.conversations, args.delay)
            print(f"{protocol:10s} {delivery:6s} one {one:.2f} s   many {many:.2f} s")
            lines.append(f"| {protocol} | {delivery} | {one:.2f} | {many:.2f} | {many / one:.2f} |")
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
