"""Added latency, client CPU and HTTP requests per exchange: the toolkit's modes side by side
with the minimal SDK loop, in one process, against one emulator, in interleaved blocks.

    python -m bench.bench_exchange [--blocks 6] [--exchanges 5] [--delay 0.3]

Each exchange is one tool call then a reply; each model turn takes `--delay` seconds on the
emulator. *Added latency* is the exchange's whole wall time (message sent to reply in hand)
minus the model's time (two turns): what the client's way of sending, waiting and reading
costs, on every turn. *Client CPU* is this process's CPU time per exchange (the emulator runs
in a child process). Each block opens one conversation per contender and holds `--exchanges`
exchanges in it (a long conversation); figures are min / median / max over the blocks, ratios
divide medians by the minimal loop's. Writes `bench/results/exchange.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (  # noqa: E402
    MINIMAL,
    QUESTION,
    SDK_ASSISTANTS,
    Contender,
    EmulatorProcess,
    Recording,
    Spread,
    describe_machine,
    load_average,
    now,
    rotate,
    toolkit,
)
from bench.report import publish  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "exchange.md"
TURNS = 2  # model turns per exchange: the tool call, the reply


@dataclass
class Tally:
    """One contender's per-block averages."""

    latency_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    requests: list[float] = field(default_factory=list)


def contenders(recording: Recording) -> list[Contender]:
    return [
        MINIMAL,
        toolkit("responses", "stream", record=True, recording=recording),
        toolkit("responses", "stream", record=False, recording=recording),
        toolkit("responses", "poll", record=True, recording=recording),
        toolkit("assistants", "stream", record=True, recording=recording),
        toolkit("assistants", "poll", record=True, recording=recording),
        SDK_ASSISTANTS,
    ]


async def block(
    contender: Contender, emulator: EmulatorProcess, exchanges: int, tally: Tally
) -> None:
    chat = await contender.open(emulator.base_url)
    try:
        await chat.ask(QUESTION)  # warm: the first exchange pays for connections and caches
        requests_before, _ = emulator.stats()
        wall_before, cpu_before = now()
        for _ in range(exchanges):
            await chat.ask(QUESTION)
        wall_after, cpu_after = now()
        requests_after, _ = emulator.stats()
    finally:
        await chat.aclose()
        contender.after_block()
    model_s = TURNS * emulator.delay * exchanges
    tally.latency_ms.append((wall_after - wall_before - model_s) * 1000 / exchanges)
    tally.cpu_ms.append((cpu_after - cpu_before) * 1000 / exchanges)
    tally.requests.append((requests_after - requests_before) / exchanges)


async def measure(
    args: argparse.Namespace,
) -> tuple[dict[str, Tally], list[tuple[float, float, float]], float]:
    recording = Recording()
    entries = contenders(recording)
    tallies = {c.name: Tally() for c in entries}
    loads = [load_average()]
    with EmulatorProcess(args.delay, args.poll_after_ms) as emulator:
        for number in range(args.blocks):
            for contender in rotate(entries, number):
                await block(contender, emulator, args.exchanges, tallies[contender.name])
            loads.append(load_average())
            print(f"block {number + 1}/{args.blocks} done, load {loads[-1][0]:.2f}", flush=True)
        _, emulator_cpu = emulator.stats()
    return tallies, loads, emulator_cpu


def report(
    args: argparse.Namespace,
    tallies: dict[str, Tally],
    loads: list[tuple[float, float, float]],
    emulator_cpu: float,
) -> str:
    floor = tallies[MINIMAL.name]
    floor_latency = Spread.of(floor.latency_ms).median
    floor_cpu = Spread.of(floor.cpu_ms).median
    lines = [
        f"One tool call then a reply per exchange, model turns of {args.delay:g} s (emulator "
        f"in its own process, poll hint {args.poll_after_ms} ms on Assistants, none on "
        f"Responses); {args.blocks} interleaved blocks of {args.exchanges} exchanges in one "
        f"conversation per contender; {describe_machine(loads)}. Figures are min / "
        f"**median** / max over the blocks; ratios divide medians by the minimal loop's, "
        f"measured in the same run. The emulator used {emulator_cpu:.1f} s of CPU in all.",
        "",
        "| client | added latency per exchange (ms) | ratio | client CPU per exchange (ms) "
        "| ratio | requests per exchange |",
        "|---|---|---|---|---|---|",
    ]
    for name, tally in tallies.items():
        latency, cpu = Spread.of(tally.latency_ms), Spread.of(tally.cpu_ms)
        lines.append(
            f"| {name} | {latency.show()} | {latency.median / floor_latency:.2f}x | "
            f"{cpu.show()} | {cpu.median / floor_cpu:.2f}x | "
            f"{Spread.of(tally.requests).median:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--exchanges", type=int, default=5, help="per block and contender")
    parser.add_argument("--delay", type=float, default=0.3, help="seconds per model turn")
    parser.add_argument("--poll-after-ms", type=int, default=100)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    tallies, loads, emulator_cpu = asyncio.run(measure(args))
    text = report(args, tallies, loads, emulator_cpu)
    publish(text, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
