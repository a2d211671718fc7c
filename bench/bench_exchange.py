"""Added latency and HTTP requests per exchange: toolkit polling vs toolkit streaming vs the
SDK's own `create_and_poll` loop, against the emulator with a fixed model delay.

    python -m bench.bench_exchange [--exchanges 10] [--delay 0.3] [--poll-after-ms 100]

*Added latency* is the client's completion time minus the emulator's: the emulator finishes
an exchange when its last model turn ends (the turn's start, seen by the model, plus its
fixed delay), so the difference is what the client's way of waiting costs. Requests are
counted on the server. Writes `bench/results/exchange.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openai import AsyncOpenAI  # noqa: E402

from conversation.wiring import wire_to_server  # noqa: E402
from emulator import (  # noqa: E402
    DEMO_ASSISTANT_ID,
    CallTools,
    EmulatorServer,
    Fault,
    Reply,
    ToolSpec,
    Turn,
    TurnContext,
)
from proxies.policy import ExchangePolicy  # noqa: E402
from tools import demo_registry  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "exchange.md"


@dataclass
class ToolThenReply:
    """Every exchange: one tool call, then a reply; each turn takes `delay` seconds."""

    delay: float
    finished_at: list[float] = field(default_factory=list)

    def decide(self, context: TurnContext) -> Turn:
        if not context.tool_calls:
            return CallTools([ToolSpec("get_stock_price", {"symbol": "AAPL"})], delay=self.delay)
        self.finished_at.append(time.time() + self.delay)
        return Reply("AAPL checked.", delay=self.delay)


async def toolkit_exchange(server: EmulatorServer, protocol: str, delivery: str) -> None:
    user = wire_to_server(
        server.base_url,
        protocol=protocol,
        delivery=delivery,
        policy=ExchangePolicy(deadline_s=60),
    )
    await user.open()
    try:
        await user.ask("price of AAPL")
    finally:
        await user.aclose()


async def sdk_create_and_poll(server: EmulatorServer) -> None:
    """The loop the SDK's own helpers give: create_and_poll, submit_..._and_poll, list."""
    registry = demo_registry()
    async with AsyncOpenAI(api_key="bench", base_url=server.base_url) as client:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            threads = client.beta.threads
            thread = await threads.create()
            await threads.messages.create(thread.id, role="user", content="price of AAPL")
            run = await threads.runs.create_and_poll(
                thread_id=thread.id, assistant_id=DEMO_ASSISTANT_ID
            )
            while run.status == "requires_action" and run.required_action is not None:
                outputs = []
                for call in run.required_action.submit_tool_outputs.tool_calls:
                    from tools.types import ToolCall

                    result = await registry.execute(
                        ToolCall(call.id, call.function.name, call.function.arguments)
                    )
                    outputs.append({"tool_call_id": call.id, "output": result.output})
                run = await threads.runs.submit_tool_outputs_and_poll(
                    run_id=run.id,
                    thread_id=thread.id,
                    tool_outputs=outputs,  # type: ignore[arg-type]
                )
            await threads.messages.list(thread.id, run_id=run.id)


MODES = {
    "toolkit, Assistants, polling": lambda s: toolkit_exchange(s, "assistants", "poll"),
    "toolkit, Assistants, streaming": lambda s: toolkit_exchange(s, "assistants", "stream"),
    "toolkit, Responses, polling": lambda s: toolkit_exchange(s, "responses", "poll"),
    "toolkit, Responses, streaming": lambda s: toolkit_exchange(s, "responses", "stream"),
    "SDK create_and_poll (Assistants)": sdk_create_and_poll,
}


async def measure(
    mode: str, exchanges: int, delay: float, poll_after_ms: int
) -> tuple[float, float]:
    model = ToolThenReply(delay)
    with EmulatorServer(model, poll_after_ms=poll_after_ms, queue_delay=0.0) as server:
        counter = server.faults.add(Fault(status=None, times=None))  # counts every request
        added: list[float] = []
        for _ in range(exchanges):
            await MODES[mode](server)
            added.append(time.time() - model.finished_at[-1])
        requests = server.faults.fired(counter) / exchanges
    return statistics.mean(added) * 1000, requests


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", type=int, default=10)
    parser.add_argument("--delay", type=float, default=0.3, help="seconds per model turn")
    parser.add_argument("--poll-after-ms", type=int, default=100)
    args = parser.parse_args()
    os.environ.setdefault("QUOTE_SOURCE", "simulated")
    rows = []
    for mode in MODES:
        added_ms, requests = await measure(mode, args.exchanges, args.delay, args.poll_after_ms)
        rows.append((mode, added_ms, requests))
        print(f"{mode:36s} added {added_ms:7.1f} ms   requests/exchange {requests:5.1f}")
    sdk_ms, sdk_requests = rows[-1][1], rows[-1][2]
    lines = [
        f"Exchange: one tool call then a reply, model turns of {args.delay:g} s, server poll "
        f"hint {args.poll_after_ms} ms, {args.exchanges} exchanges per mode, one machine "
        f"({os.cpu_count()} cores).",
        "",
        "| mode | added latency per exchange (ms) | HTTP requests per exchange | "
        "latency vs SDK loop | requests vs SDK loop |",
        "|---|---|---|---|---|",
    ]
    for mode, added_ms, requests in rows:
        lines.append(
            f"| {mode} | {added_ms:.1f} | {requests:.1f} | "
            f"{added_ms / sdk_ms:.2f}x | {requests / sdk_requests:.2f}x |"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
