"""Benchmark the recorder and the history page's queries, on sqlite and PostgreSQL.

    python -m bench.bench_recorder                       # both databases, default sizes
    python -m bench.bench_recorder --runs 20000 --no-postgres

1. Recorder throughput: real events from a real mediator (no HTTP: its participants do
   nothing), published as fast as possible; events per second from the first publish until
   `flush()` says all are durable, the publisher's own cost per event (what a conversation
   pays), and the publish-to-durable latency (p50/p99) at a steady rate (default batching:
   the writer waits up to 50 ms to fill a batch).
2. History: a database of `--runs` runs (10 per conversation, 6 events, 2 messages and a tool
   call each) made with bulk inserts, then the first page of `list_conversations` (plain,
   filtered by status, by text), `list_runs` and `list_run_events` for one run, and
   `run_timeline`: the median of 5 calls each.

PostgreSQL: a scratch database is created on ``TEST_POSTGRES_URL`` (default the local server)
and dropped afterwards. Prints a markdown table and writes it to ``bench/results/recorder.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url

from bench.report import publish
from mediator.basic import MediatorBasic
from mediator.errors import ExchangeError
from persistence import HistoryStore, Recorder, make_engine, upgrade_schema
from persistence.models import Conversation, Message, Run, RunEvent, ToolCallRow
from persistence.records import EventRecord, Record
from tools.types import ToolCall, ToolResult

RESULTS = Path(__file__).resolve().parent / "results" / "recorder.md"
PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
EVENTS_PER_EXCHANGE = 14


class _User:
    async def execute_tools(self, calls: Sequence[ToolCall]) -> Sequence[ToolResult]:
        return [ToolResult(call_id=c.id, name=c.name, output='{"price": 1.0}') for c in calls]

    def deliver_reply(self, text: str) -> None:
        pass

    def deliver_error(self, error: ExchangeError) -> None:
        pass


class _Assistant:
    def start_exchange(self, exchange_id: str, text: str) -> None:
        pass


async def _exchange(mediator: MediatorBasic, run_id: str) -> None:
    """One exchange with a tool call: 14 events."""
    mediator.set_user_message("What is the price of AAPL?")
    if mediator.conversation_id is None:
        mediator.bind_conversation(f"thread_{uuid.uuid4().hex}")
    mediator.started(run_id)
    mediator.heartbeat("in_progress")
    call = ToolCall(id=f"call_{run_id}", name="get_stock_price", arguments='{"symbol": "AAPL"}')
    results = await mediator.action_required([call])
    mediator.tool_outputs_submitted(results)
    mediator.assistant_message_retrieved("AAPL is at 1.0 USD.")


def _mediators(count: int) -> list[MediatorBasic]:
    made = []
    for _ in range(count):
        mediator = MediatorBasic()
        mediator.attach(_User(), _Assistant())
        made.append(mediator)
    return made


def _thread_cpu_s(thread: threading.Thread | None) -> float:
    """CPU seconds `thread` has used so far (Linux and other POSIX systems)."""
    assert thread is not None
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


async def bench_burst(engine: Engine, exchanges: int) -> dict[str, float]:
    """Publish `exchanges` x 14 events as fast as possible; time until all are durable.

    Also the CPU the recorder's writer thread used per event (turning events into records,
    planning, the driver's work: what the recorder adds to a conversation's CPU besides the
    append), and the whole process's CPU per event.
    """
    recorder = Recorder(engine, batch_size=1000, flush_interval_s=0.05).start()
    mediators = _mediators(20)
    try:
        writer_cpu = _thread_cpu_s(recorder._thread)
        process_cpu = time.process_time()
        started = time.perf_counter()
        for n in range(exchanges):
            await _exchange(mediators[n % len(mediators)], f"run_{uuid.uuid4().hex}")
        published = time.perf_counter()
        assert recorder.flush(600), recorder.stats
        durable = time.perf_counter()
        writer_cpu = _thread_cpu_s(recorder._thread) - writer_cpu
        process_cpu = time.process_time() - process_cpu
    finally:
        recorder.close()
    events = exchanges * EVENTS_PER_EXCHANGE
    return {
        "events": events,
        "events_per_s": events / (durable - started),
        "publish_us_per_event": (published - started) / events * 1e6,
        "writer_cpu_us_per_event": writer_cpu / events * 1e6,
        "process_cpu_us_per_event": process_cpu / events * 1e6,
    }


async def bench_paced(engine: Engine, rate: int, seconds: float) -> dict[str, float]:
    """Publish about `rate` events/s for `seconds`; publish-to-durable latency per event.

    Each event's latency is from its timestamp (set by the mediator when it publishes) to the
    commit of the batch that stored it, taken by wrapping the recorder's batch writer.
    """
    recorder = Recorder(engine, batch_size=1000, flush_interval_s=0.05)
    latencies: list[float] = []
    write = recorder._writer.write

    def timed(batch: Sequence[Record], **options: Any) -> None:
        write(batch, **options)
        durable = datetime.now(UTC)
        latencies.extend(
            (durable - r.at).total_seconds() for r in batch if isinstance(r, EventRecord)
        )

    recorder._writer.write = timed  # type: ignore[method-assign]
    recorder.start()
    mediators = _mediators(20)
    try:
        start = time.perf_counter()
        for n in range(int(rate * seconds / EVENTS_PER_EXCHANGE)):
            due = start + n * EVENTS_PER_EXCHANGE / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            await _exchange(mediators[n % len(mediators)], f"run_{uuid.uuid4().hex}")
        assert recorder.flush(120), recorder.stats
    finally:
        recorder.close()
    latencies.sort()
    return {
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
    }


def _chunks(rows: Iterator[dict[str, Any]], size: int = 10_000) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


T0 = datetime(2026, 1, 1, tzinfo=UTC)
STOCKS = ("AAPL", "MSFT", "TSLA", "NVDA")


def _start(r: int) -> datetime:
    return T0 + timedelta(minutes=r // 10, seconds=(r % 10) * 5)


def conversation_rows(runs: int) -> Iterator[dict[str, Any]]:
    for c in range(max(1, runs // 10)):
        yield {"id": f"thread_{c:07d}", "session_id": f"s{c}", "assistant_id": "asst_bench",
               "title": f"Price of {STOCKS[c % 4]}?", "created_at": T0 + timedelta(minutes=c),
               "updated_at": T0 + timedelta(minutes=c, seconds=50)}  # fmt: skip


def run_rows(runs: int) -> Iterator[dict[str, Any]]:
    for r in range(runs):
        failed = r % 50 == 49
        yield {"id": f"run_{r:08d}", "conversation_id": f"thread_{r // 10:07d}",
               "status": "failed" if failed else "completed", "started_at": _start(r),
               "ended_at": _start(r) + timedelta(seconds=4), "duration_s": 4.0,
               "error_message": "boom" if failed else None}  # fmt: skip


def event_rows(runs: int) -> Iterator[dict[str, Any]]:
    states = ("ready", "started", "requires_action", "tools_executed", "tool_outputs_submitted")
    for r in range(runs):
        for seq, state in enumerate((*states, "completed")):
            yield {"event_uuid": uuid.uuid4().hex, "run_id": f"run_{r:08d}", "seq": seq,
                   "conversation_id": f"thread_{r // 10:07d}", "type": "StateChanged",
                   "topic": "stateChanged", "state": state,
                   "at": _start(r) + timedelta(milliseconds=500 * seq)}  # fmt: skip


def message_rows(runs: int) -> Iterator[dict[str, Any]]:
    for r in range(runs):
        stock = STOCKS[r % 4]
        for n, (role, words) in enumerate(
            (("user", f"What is {stock} at?"), ("assistant", f"{stock}: 1.0"))
        ):
            yield {"event_uuid": uuid.uuid4().hex, "conversation_id": f"thread_{r // 10:07d}",
                   "run_id": f"run_{r:08d}", "role": role, "text": words,
                   "created_at": _start(r) + timedelta(seconds=n)}  # fmt: skip


def tool_rows(runs: int) -> Iterator[dict[str, Any]]:
    for r in range(runs):
        start = _start(r)
        yield {"run_id": f"run_{r:08d}", "call_id": f"call_{r}", "name": "get_stock_price",
               "arguments": "{}", "output": "{}", "is_error": False,
               "requested_at": start + timedelta(seconds=1),
               "executed_at": start + timedelta(seconds=1.1),
               "submitted_at": start + timedelta(seconds=1.2)}  # fmt: skip


def populate(engine: Engine, runs: int) -> float:
    """Bulk-insert `runs` runs (10 per conversation) with their rows; returns the seconds."""
    started = time.perf_counter()
    loads: list[tuple[Any, Callable[[int], Iterator[dict[str, Any]]]]] = [
        (Conversation, conversation_rows), (Run, run_rows), (RunEvent, event_rows),
        (Message, message_rows), (ToolCallRow, tool_rows),
    ]  # fmt: skip
    for model, rows in loads:
        for chunk in _chunks(rows(runs)):
            with engine.begin() as connection:
                connection.execute(insert(model), chunk)
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    return time.perf_counter() - started


def _median_ms(call: Callable[[], object], repeat: int = 5) -> float:
    call()  # warm the caches and the connection pool
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def bench_history(engine: Engine) -> dict[str, float]:
    store = HistoryStore(engine)
    first = store.list_conversations(limit=1).items[0]
    run = store.list_runs(first.id, newest_first=True, limit=1).items[0]
    return {
        "list_conversations page 1": _median_ms(lambda: store.list_conversations(limit=50)),
        "list_conversations status=failed": _median_ms(
            lambda: store.list_conversations(status="failed", limit=50)
        ),
        "list_conversations text='tsla'": _median_ms(
            lambda: store.list_conversations(text="tsla", limit=50)
        ),
        "list_runs (one conversation)": _median_ms(lambda: store.list_runs(first.id)),
        "list_run_events (one run)": _median_ms(lambda: store.list_run_events(run.id)),
        "run_timeline (one run)": _median_ms(lambda: store.run_timeline(run.id)),
    }


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """An empty database of `kind`: a sqlite file, or a scratch PostgreSQL database."""
    if kind == "sqlite":
        yield f"sqlite:///{folder}/{uuid.uuid4().hex}.db"
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"am_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run_kind(kind: str, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    result: dict[str, Any] = {}
    with database(kind, folder) as url:
        engine = make_engine(url)
        upgrade_schema(engine)
        bursts = [asyncio.run(bench_burst(engine, args.exchanges)) for _ in range(args.repeat)]
        result["bursts"] = bursts
        result["paced"] = asyncio.run(bench_paced(engine, args.rate, args.seconds))
        engine.dispose()
    if args.recorder_only:
        return result
    with database(kind, folder) as url:
        engine = make_engine(url)
        upgrade_schema(engine)
        result["populate_s"] = populate(engine, args.runs)
        result["history"] = bench_history(engine)
        engine.dispose()
    return result


def _history_cell(query: str) -> Callable[[dict[str, Any]], str]:
    return lambda result: f"{result['history'][query]:.1f}"


def _spread(key: str, digits: int = 1) -> Callable[[dict[str, Any]], str]:
    """The bursts' median of `key`, with (min-max) when there were several."""

    def cell(result: dict[str, Any]) -> str:
        values = sorted(burst[key] for burst in result["bursts"])
        median = f"{statistics.median(values):,.{digits}f}"
        if len(values) == 1:
            return median
        return f"{median} ({values[0]:,.{digits}f}-{values[-1]:,.{digits}f})"

    return cell


def table(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    kinds = list(results)
    head = "| measure | " + " | ".join(kinds) + " |\n|---|" + "---:|" * len(kinds) + "\n"
    rows: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("recorder: events/s, publish to durable (burst of "
         f"{args.exchanges * EVENTS_PER_EXCHANGE} events)", _spread("events_per_s", 0)),
        ("publisher cost per event (µs, listener + mediator)",
         _spread("publish_us_per_event")),
        ("writer thread CPU per event (µs)", _spread("writer_cpu_us_per_event")),
        ("process CPU per event, publisher + writer (µs)",
         _spread("process_cpu_us_per_event")),
        (f"publish to durable at {args.rate} events/s: p50 (ms)",
         lambda r: f"{r['paced']['p50_ms']:.1f}"),
        (f"publish to durable at {args.rate} events/s: p99 (ms)",
         lambda r: f"{r['paced']['p99_ms']:.1f}"),
    ]  # fmt: skip
    if not args.recorder_only:
        rows.append((f"bulk load of {args.runs:,} runs (s)", lambda r: f"{r['populate_s']:.1f}"))
        for query in next(iter(results.values()))["history"]:
            rows.append((f"{query} (ms)", _history_cell(query)))
    body = "".join(
        f"| {label} | " + " | ".join(cell(results[k]) for k in kinds) + " |\n"
        for label, cell in rows
    )
    return head + body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", type=int, default=2000, help="burst size (x14 events)")
    parser.add_argument("--rate", type=int, default=2000, help="paced events per second")
    parser.add_argument("--seconds", type=float, default=3.0, help="paced duration")
    parser.add_argument("--runs", type=int, default=100_000, help="runs in the history database")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="bursts per database")
    parser.add_argument(
        "--recorder-only", action="store_true", help="skip the history database and queries"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="where the table goes")
    args = parser.parse_args()
    kinds = ["sqlite"] if args.no_postgres else ["sqlite", "postgresql"]
    results: dict[str, dict[str, Any]] = {}
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as folder:
        for kind in kinds:
            print(f"benchmarking {kind}...", flush=True)
            results[kind] = run_kind(kind, Path(folder), args)
            loads.append(os.getloadavg()[0])
    command = " ".join(["python -m bench.bench_recorder", *sys.argv[1:]])
    report = (
        "# Recorder and history benchmark\n\n"
        f"`{command}` on {datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} CPUs, 1-minute load "
        f"average {min(loads):.1f} to {max(loads):.1f} during the run. sqlite: WAL file on "
        "local disk; PostgreSQL: local server (its own CPU is not in the figures). Bursts: "
        f"median (min-max) of {args.repeat}.\n\n" + table(results, args)
    )
    publish(report, args.output)


if __name__ == "__main__":
    main()
