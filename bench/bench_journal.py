"""What the exchange journal costs per exchange, on sqlite and PostgreSQL.

    python -m bench.bench_journal [--exchanges 300] [--blocks 6] [--concurrent 1000]
                                  [--no-postgres]

1. The journal alone: the four durable writes of an exchange with two tool calls (exchange
   started, calls started, calls finished, exchange ended), each waited for in the calling
   thread (one commit each, since nothing else is waiting): median and p99 per exchange, and
   the CPU of the process per exchange.
2. Many at once: `--concurrent` exchanges' four facts written together from one event loop
   through `proxies.journaling.journaled`, as that many conversations would: wall time, the
   transactions the group commit needed, and the facts skipped for waiting past the 3 s bound
   (must be none).
3. In a conversation: the same exchange (two parallel tool calls, then a reply) against the
   emulator, with the journal in memory (recording off: the floor), in sqlite and in
   PostgreSQL; blocks of exchanges interleaved so every kind sees the same machine load.

PostgreSQL: a scratch database on ``TEST_POSTGRES_URL`` (default the local server), dropped
afterwards. Writes a markdown table to ``bench/results/journal.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.report import publish  # noqa: E402
from conversation.catalog import demo_catalog  # noqa: E402
from conversation.settings import Settings  # noqa: E402
from conversation.wiring import wire  # noqa: E402
from emulator import CallTools, EmulatorServer, Reply, ScriptedModel, ToolSpec  # noqa: E402
from mediator.journal import Journal, MemoryJournal  # noqa: E402
from persistence import DatabaseJournal, make_engine, upgrade_schema  # noqa: E402
from proxies.backends.factory import create_backend  # noqa: E402
from proxies.journaling import journaled  # noqa: E402
from proxies.policy import ExchangePolicy  # noqa: E402
from tools import demo_registry  # noqa: E402
from tools.types import ToolCall, ToolResult  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "journal.md"
PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CALLS = [
    ToolSpec("get_stock_price", {"symbol": "MSFT"}),
    ToolSpec("get_stock_price", {"symbol": "TSLA"}),
]


def journal_alone(journal: Journal, exchanges: int) -> tuple[list[float], float]:
    """Milliseconds per exchange for the four writes of an exchange with two tool calls, and
    the process's CPU milliseconds per exchange."""
    times = []
    cpu_before = time.process_time()
    for _ in range(exchanges):
        exchange_id = uuid.uuid4().hex
        calls = [ToolCall(f"call_{uuid.uuid4().hex}", "get_stock_price", '{"symbol": "X"}')] * 2
        results = [ToolResult(c.id, c.name, '{"price": 1.0}') for c in calls]
        started = time.perf_counter()
        journal.exchange_started("conv_bench", exchange_id, "asst_demo_stock", "Price of X?")
        journal.calls_started(exchange_id, calls)
        journal.calls_finished(exchange_id, results)
        journal.exchange_ended(exchange_id, "completed", "X is at 1.0.")
        times.append((time.perf_counter() - started) * 1000)
    return times, (time.process_time() - cpu_before) * 1000 / exchanges


@dataclass
class Crowd:
    """Many exchanges' facts written at once."""

    wall_s: float
    facts: int
    commits: int | None
    skipped: int


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


async def crowd(journal: Journal, exchanges: int) -> Crowd:
    """`exchanges` conversations writing an exchange's four facts at the same time."""

    async def one(number: int) -> None:
        exchange_id = uuid.uuid4().hex
        calls = [ToolCall(f"call_{uuid.uuid4().hex}", "get_stock_price", "{}")] * 2
        results = [ToolResult(c.id, c.name, '{"price": 1.0}') for c in calls]
        await journaled(journal.exchange_started, f"conv_{number}", exchange_id, "asst", "X?")
        await journaled(journal.calls_started, exchange_id, calls)
        await journaled(journal.calls_finished, exchange_id, results)
        await journaled(journal.exchange_ended, exchange_id, "completed", "X is at 1.0.")

    skipped = _Count()
    logging.getLogger("proxies.journaling").addHandler(skipped)
    before = getattr(journal, "commits", None)
    started = time.perf_counter()
    try:
        await asyncio.gather(*(one(n) for n in range(exchanges)))
    finally:
        logging.getLogger("proxies.journaling").removeHandler(skipped)
    wall_s = time.perf_counter() - started
    after = getattr(journal, "commits", None)
    commits = after - before if after is not None and before is not None else None
    return Crowd(wall_s, 4 * exchanges, commits, skipped.count)


async def exchanges_with(base_url: str, journal: Journal, count: int) -> list[float]:
    """Milliseconds per exchange (two parallel tool calls, then a reply) in one conversation."""
    backend = create_backend(
        "responses", api_key="not-a-secret", base_url=base_url, catalog=demo_catalog()
    )
    user = wire(
        "asst_demo_stock",
        Settings.model_validate({"RECORD_EVENTS": False, "QUOTE_SOURCE": "simulated"}),
        registry=demo_registry(quote_source="simulated"),
        policy=ExchangePolicy(deadline_s=60),
        backend=backend,
        delivery="stream",
        journal=journal,
    )
    times = []
    try:
        await user.open()
        for _ in range(count):
            started = time.perf_counter()
            await user.ask("Price of MSFT and TSLA?")
            times.append((time.perf_counter() - started) * 1000)
    finally:
        await user.aclose()
    return times


@contextmanager
def scratch_postgres() -> Iterator[str | None]:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"am_bench_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        print(f"PostgreSQL skipped: {type(exc).__name__}: {str(exc).splitlines()[0]}")
        admin.dispose()
        yield None
        return
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def stats(values: list[float]) -> str:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{statistics.median(ordered):.2f} / {p99:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", type=int, default=300)
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--per-block", type=int, default=10)
    parser.add_argument("--concurrent", type=int, default=1000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, scratch_postgres() as pg_url:
        urls = {"sqlite": f"sqlite:///{folder}/journal.db"}
        if pg_url is not None and not args.no_postgres:
            urls["postgresql"] = pg_url
        journals: dict[str, Journal] = {"memory": MemoryJournal()}
        engines = []
        for kind, url in urls.items():
            engine = make_engine(url)
            upgrade_schema(engine)
            engines.append(engine)
            journals[kind] = DatabaseJournal(engine)
        alone = {kind: journal_alone(j, args.exchanges) for kind, j in journals.items()}
        crowds = {kind: asyncio.run(crowd(j, args.concurrent)) for kind, j in journals.items()}
        model = ScriptedModel([CallTools(CALLS), Reply("Both prices are in.")] * 10_000)
        in_chat: dict[str, list[float]] = {kind: [] for kind in journals}
        with EmulatorServer(model, queue_delay=0.0) as server:
            for _ in range(args.blocks):
                for kind, journal in journals.items():
                    block = asyncio.run(exchanges_with(server.base_url, journal, args.per_block))
                    in_chat[kind].append(statistics.median(block))
        for engine in engines:
            engine.dispose()
    load = os.getloadavg()
    floor = statistics.median(in_chat["memory"])
    rows = [
        f"| {kind} | {stats(alone[kind][0])} | {alone[kind][1]:.2f} | "
        f"{min(in_chat[kind]):.1f} / "
        f"{statistics.median(in_chat[kind]):.1f} / {max(in_chat[kind]):.1f} | "
        f"{statistics.median(in_chat[kind]) - floor:+.1f} |"
        for kind in journals
    ]
    crowd_rows = [
        f"| {kind} | {c.wall_s:.2f} | {c.facts} | "
        f"{c.commits if c.commits is not None else 'none (memory)'} | {c.skipped} |"
        for kind, c in crowds.items()
    ]
    report = "\n".join(
        [
            "# Exchange journal benchmark",
            "",
            f"`python -m bench.bench_journal` on {datetime.now(UTC):%Y-%m-%d}, "
            f"{os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} "
            f"(1 / 5 / 15 min). sqlite: WAL file on local disk; PostgreSQL: local server.",
            "",
            f"Journal alone: {args.exchanges} exchanges of four durable writes (two tool calls). "
            f"In a conversation: {args.blocks} interleaved blocks of {args.per_block} exchanges "
            "(two parallel tool calls, then a reply) against the emulator, Responses, streamed; "
            "block medians.",
            "",
            "| journal | alone: ms per exchange, median / p99 | alone: CPU ms per exchange "
            "| in a conversation: ms per exchange, min / median / max | added to the median "
            "(ms) |",
            "|---|---:|---:|---:|---:|",
            *rows,
            "",
            f"Many at once: {args.concurrent} exchanges' four facts each, written together "
            "from one event loop as that many conversations would (group commit: one writer "
            "thread per journal, every waiting fact in one transaction).",
            "",
            "| journal | wall time (s) | facts | transactions | facts skipped (waited past "
            "the 3 s bound) |",
            "|---|---:|---:|---:|---:|",
            *crowd_rows,
            "",
        ]
    )
    publish(report, RESULTS)


if __name__ == "__main__":
    main()
