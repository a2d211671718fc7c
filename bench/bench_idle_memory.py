"""Memory per idle conversation: N conversations built through the public API, no message yet.

    python -m bench.bench_idle_memory [--conversations 1000]

Each conversation is `conversation.start_conversation()` with the offline default and
recording on, as an app serving many users would hold them. Resident memory is read from
`/proc/self/statm` after one conversation and after N (a garbage collection before each
reading). Writes `bench/results/idle_memory.md`.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import conversation  # noqa: E402
from bench.report import publish  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "idle_memory.md"


def rss_mb() -> float:
    gc.collect()
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = conversation.load_settings(
            {"DATABASE_URL": f"sqlite:///{folder}/bench.db", "QUOTE_SOURCE": "simulated"},
            dotenv_path=None,
        )
        held = [conversation.start_conversation(settings=settings)]
        one = rss_mb()
        started = time.perf_counter()
        held += [
            conversation.start_conversation(settings=settings)
            for _ in range(args.conversations - 1)
        ]
        elapsed = time.perf_counter() - started
        many = rss_mb()
    per = (many - one) * 1024 / (args.conversations - 1)
    load = os.getloadavg()
    report = (
        "# Memory per idle conversation\n\n"
        f"`python -m bench.bench_idle_memory --conversations {args.conversations}` on "
        f"{platform.machine()}, {os.cpu_count()} cores, load average {load[0]:.2f} at the end.\n\n"
        "| conversations | resident memory | added over one | per conversation | build time |\n"
        "|---|---|---|---|---|\n"
        f"| 1 | {one:.1f} MB | | | |\n"
        f"| {args.conversations} | {many:.1f} MB | {many - one:.1f} MB | {per:.1f} KB | "
        f"{elapsed * 1000 / (args.conversations - 1):.2f} ms each |\n\n"
        "Goal (issue 8): 1,000 idle conversations use under 100 MB more than one. Before the "
        "shared client and engine, the same count took about 972 MB.\n"
    )
    publish(report, RESULTS)
    del held


if __name__ == "__main__":
    main()
