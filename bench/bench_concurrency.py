"""Many users at once in one process: the toolkit against the minimal SDK loop doing the same
work, side by side against one emulator, in interleaved blocks.

    python -m bench.bench_concurrency [--users 200] [--blocks 3] [--delay 0.5]

As a server handling many users would use the public API: each user starts a conversation,
holds one exchange (a tool call, then a reply), and closes it; all users start together.
Reported per contender: wall time, client CPU, when users got their answer (p50 and p99 of
the completion times, as a fraction of the wall time: 1.0 for both means everyone waited
for everyone, lockstep), this process's peak resident memory during the block and its growth,
and the journal's warnings (writes that waited past their bound). Ratios divide medians by the
minimal loop's from the same run. Writes `bench/results/concurrency.md` (200 users) or
`bench/results/concurrency_<users>.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (  # noqa: E402
    MINIMAL,
    QUESTION,
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

RESULTS = Path(__file__).resolve().parent / "results" / "concurrency.md"


@dataclass
class Tally:
    wall_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)
    failures: int = 0
    journal_warnings: int = 0


class CountWarnings(logging.Handler):
    """Counts the journal's warnings (a write that waited past its bound was skipped)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def resident_mb() -> float:
    """This process's resident memory now (Linux)."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * 4096 / 2**20


async def one_user(contender: Contender, base_url: str, start: float) -> float:
    chat = await contender.open(base_url)
    try:
        await chat.ask(QUESTION)
    finally:
        await chat.aclose()
    return time.perf_counter() - start


async def watch_memory(peak: list[float]) -> None:
    while True:
        peak[0] = max(peak[0], resident_mb())
        await asyncio.sleep(0.05)


async def block(contender: Contender, emulator: EmulatorProcess, users: int, tally: Tally) -> None:
    baseline = resident_mb()
    peak = [baseline]
    watcher = asyncio.create_task(watch_memory(peak))
    warnings = CountWarnings()
    journal_logger = logging.getLogger("proxies.journaling")
    journal_logger.addHandler(warnings)
    wall_before, cpu_before = now()
    try:
        outcomes = await asyncio.gather(
            *(one_user(contender, emulator.base_url, wall_before) for _ in range(users)),
            return_exceptions=True,
        )
    finally:
        wall_after, cpu_after = now()
        watcher.cancel()
        contender.after_block()
        journal_logger.removeHandler(warnings)
    tally.journal_warnings += warnings.count
    done = sorted(o for o in outcomes if isinstance(o, float))
    tally.failures += users - len(done)
    wall = wall_after - wall_before
    tally.wall_s.append(wall)
    tally.cpu_s.append(cpu_after - cpu_before)
    if done:
        tally.p50.append(statistics.median(done) / wall)
        tally.p99.append(done[min(len(done) - 1, round(0.99 * (len(done) - 1)))] / wall)
    tally.rss_mb.append(peak[0] - baseline)
    tally.peak_mb.append(peak[0])


async def measure(
    args: argparse.Namespace,
) -> tuple[dict[str, Tally], list[tuple[float, float, float]]]:
    recording = Recording()
    entries = [
        MINIMAL,
        toolkit("responses", "stream", record=True, recording=recording, admission=args.admission),
        toolkit("responses", "stream", record=False, recording=recording, admission=args.admission),
    ]
    tallies = {c.name: Tally() for c in entries}
    loads = [load_average()]
    with EmulatorProcess(args.delay) as emulator:
        for number in range(args.blocks):
            for contender in rotate(entries, number):
                await block(contender, emulator, args.users, tallies[contender.name])
            loads.append(load_average())
            print(f"block {number + 1}/{args.blocks} done, load {loads[-1][0]:.2f}", flush=True)
    return tallies, loads


def report(
    args: argparse.Namespace, tallies: dict[str, Tally], loads: list[tuple[float, float, float]]
) -> str:
    floor = tallies[MINIMAL.name]
    floor_wall, floor_cpu = Spread.of(floor.wall_s).median, Spread.of(floor.cpu_s).median
    lines = [
        f"{args.users} users at once, each: start a conversation, one exchange (a tool "
        f"call, then a reply; model turns of {args.delay:g} s), close it. {args.blocks} "
        f"interleaved blocks per contender, emulator in its own process; "
        f"{describe_machine(loads)}. Figures are min / **median** / max over the blocks; "
        f"ratios divide medians by the minimal loop's from the same run. p50 and p99 are "
        f"when users had their answer, as a fraction of the block's wall time. Peak RSS is the "
        f"whole bench process's (the emulator runs apart); journal warnings are writes that "
        f"waited past their bound. The toolkit's admission: "
        f"MAX_EXCHANGES_IN_PROGRESS={args.admission or 'adaptive'}.",
        "",
        "| client | wall time (s) | ratio | client CPU (s) | ratio | p50 / wall | p99 / wall "
        "| peak RSS (MB) | memory growth (MB) | failed | journal warnings |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, tally in tallies.items():
        wall, cpu = Spread.of(tally.wall_s), Spread.of(tally.cpu_s)
        lines.append(
            f"| {name} | {wall.show(2)} | {wall.median / floor_wall:.2f}x | {cpu.show(2)} | "
            f"{cpu.median / floor_cpu:.2f}x | {Spread.of(tally.p50).median:.2f} | "
            f"{Spread.of(tally.p99).median:.2f} | {max(tally.peak_mb):.0f} | "
            f"{Spread.of(tally.rss_mb).median:.0f} | {tally.failures} | "
            f"{tally.journal_warnings} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", "--conversations", dest="users", type=int, default=200)
    parser.add_argument("--blocks", type=int, default=3)
    parser.add_argument("--delay", type=float, default=0.5, help="seconds per model turn")
    parser.add_argument(
        "--admission",
        type=int,
        default=0,
        help="the toolkit's MAX_EXCHANGES_IN_PROGRESS (0: adaptive, the default)",
    )
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    if args.output is None:
        args.output = (
            RESULTS if args.users == 200 else RESULTS.with_stem(f"concurrency_{args.users}")
        )
    tallies, loads = asyncio.run(measure(args))
    text = report(args, tallies, loads)
    publish(text, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
