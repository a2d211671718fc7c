"""Memory and completeness while the database is away: 20 busy conversations, recording on.

    python -m bench.bench_outage [--outage-s 120] [--conversations 20] [--max-pending 20000]

Twenty conversations talk to the emulator without pause (Responses, streamed, a tool call per
exchange) while one recorder stores their events in PostgreSQL. After a warm-up the database
refuses connections for `--outage-s` seconds (``ALLOW_CONNECTIONS false`` and the recorder's
sessions terminated: a real outage, not a mock), then comes back. Resident memory is sampled
every second; at the end the conversations stop, the recorder catches up, and the rows stored
are compared with the events published. Run it twice with ``--max-pending`` large to see what
memory does without the spill file.

Needs the local PostgreSQL (``TEST_POSTGRES_URL``); writes ``bench/results/outage.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench.harness import EmulatorProcess  # noqa: E402
from bench.report import publish  # noqa: E402
from conversation.settings import Settings  # noqa: E402
from conversation.wiring import wire_to_server  # noqa: E402
from mediator.bus import subscribe  # noqa: E402
from persistence import Recorder, make_engine, upgrade_schema  # noqa: E402
from persistence.models import RunEvent  # noqa: E402
from persistence.recorder import DEFAULT_MAX_PENDING  # noqa: E402
from proxies.policy import ExchangePolicy  # noqa: E402
from tools import demo_registry  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "outage.md"
PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


async def converse(base_url: str, stop: asyncio.Event, exchanges: list[int]) -> None:
    user = wire_to_server(
        base_url,
        settings=Settings.model_validate({"RECORD_EVENTS": False}),
        registry=demo_registry(quote_source="simulated"),
        policy=ExchangePolicy(deadline_s=120),
    )
    try:
        while not stop.is_set():
            await user.ask("What is the price of AAPL?")
            exchanges[0] += 1
    finally:
        await user.aclose()


class Sampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float]] = []
        self.done = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self.done.wait(1.0):
            self.samples.append((time.monotonic() - started, rss_mb()))


def set_connections(admin_url: str, name: str, allowed: bool) -> None:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(
            text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        )
        if not allowed:
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                {"n": name},
            )
    admin.dispose()


async def run(args: argparse.Namespace, url: str, name: str, spill_dir: str) -> dict[str, Any]:
    engine = make_engine(url)
    upgrade_schema(engine)
    published = [0]
    counter = subscribe(lambda _event: published.__setitem__(0, published[0] + 1))
    recorder = Recorder(engine, max_pending=args.max_pending, spill_dir=spill_dir).start()
    sampler = Sampler()
    stop = asyncio.Event()
    exchanges = [0]
    # The emulator in a process of its own: what it holds is not this process's memory.
    with EmulatorProcess(delay=0.0) as server:
        tasks = [
            asyncio.create_task(converse(server.base_url, stop, exchanges))
            for _ in range(args.conversations)
        ]
        await asyncio.sleep(args.warmup_s)
        assert recorder.flush(60)
        before = rss_mb()
        sampler.start()
        await asyncio.to_thread(set_connections, PG_ADMIN_URL, name, False)
        await asyncio.sleep(args.outage_s)
        during = max(mb for _, mb in sampler.samples) if sampler.samples else rss_mb()
        spilled = recorder.stats.spilled
        quarters = [
            max((mb for t, mb in sampler.samples if t <= args.outage_s * q / 4), default=before)
            for q in (1, 2, 3, 4)
        ]
        pending_at_end = recorder.stats.pending
        await asyncio.to_thread(set_connections, PG_ADMIN_URL, name, True)
        back = time.monotonic()
        stop.set()
        await asyncio.gather(*tasks)
    stored_all = await asyncio.to_thread(recorder.flush, 600)
    caught_up_s = time.monotonic() - back
    sampler.done.set()
    counter.close()
    recorder.close()
    with Session(engine) as session:
        rows = session.scalar(select(func.count()).select_from(RunEvent)) or 0
    engine.dispose()
    return {
        "exchanges": exchanges[0],
        "published": published[0],
        "rows": rows,
        "stored_all": float(stored_all),
        "rss_before": before,
        "rss_max_during": during,
        "pending_at_end": pending_at_end,
        "spilled_at_end": spilled,
        "caught_up_s": caught_up_s,
        "quarters": " / ".join(f"{mb:.0f}" for mb in quarters),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage-s", type=float, default=120.0)
    parser.add_argument("--warmup-s", type=float, default=5.0)
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--max-pending", type=int, default=DEFAULT_MAX_PENDING)
    args = parser.parse_args()
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"am_outage_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        with tempfile.TemporaryDirectory() as spill_dir:
            result = asyncio.run(run(args, url, name, spill_dir))
    finally:
        set_connections(PG_ADMIN_URL, name, True)
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    load = os.getloadavg()
    report = "\n".join(
        [
            "# Database outage benchmark",
            "",
            f"`python -m bench.bench_outage --outage-s {args.outage_s:g} --max-pending "
            f"{args.max_pending}` on {datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} CPUs, load "
            f"average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1 / 5 / 15 min). "
            f"{args.conversations} conversations without pause (Responses, streamed, one tool "
            "call per exchange) recording to the local PostgreSQL, which refuses connections "
            f"for {args.outage_s:g} s.",
            "",
            "| measure | value |",
            "|---|---:|",
            f"| exchanges held during the run | {result['exchanges']:,} |",
            f"| events published / rows stored after recovery | {result['published']:,} / "
            f"{result['rows']:,} |",
            f"| records waiting when the database came back | {result['pending_at_end']:,} |",
            f"| of which in the spill file | {result['spilled_at_end']:,} |",
            f"| resident memory before the outage (MB) | {result['rss_before']:.1f} |",
            f"| largest resident memory during the outage (MB) | {result['rss_max_during']:.1f} |",
            f"| largest by the end of each quarter of the outage (MB) | {result['quarters']} |",
            f"| from recovery to every record stored (s) | {result['caught_up_s']:.1f} |",
            "",
        ]
    )
    default = args.max_pending == DEFAULT_MAX_PENDING
    target = RESULTS if default else RESULTS.with_name(f"outage_max_pending_{args.max_pending}.md")
    publish(report, target)


if __name__ == "__main__":
    main()
