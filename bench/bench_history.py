"""Benchmark the history page's queries over 100,000 conversations, on sqlite and PostgreSQL.

    python -m bench.bench_history                                  # both databases
    python -m bench.bench_history --conversations 20000 --no-postgres
    python -m bench.bench_history --keep /tmp/history.db            # keep the sqlite file

The database is filled with `bench.bench_recorder`'s bulk loader (its row generators: 6
events, 2 messages and a tool call per run), regrouped so that `--conversations`
conversations get `--runs-per-conversation` runs each, every run with token usage and a cost
(every fiftieth failed, without a price). Messages name one of four stocks each: a text search
for ``tsla`` matches half of the conversations, the worst case the page can be asked;
``nothing-matches`` and a rare word (one conversation) bound it from the other side.

Then each query is timed `--repeat` times, the queries interleaved (one round runs each once,
in a shuffled order) so that a burst of load on the shared machine hits them all alike:
min / median / max in milliseconds, with the 1-minute load average before and after. The
conversation queries are also timed as each `--before` revision (git; default the one before
the history's query work; the option may be repeated) had them, its
``persistence/history.py`` loaded from git and run on the same database in the same rounds
(with today's helper modules: its conversation rows, search and walk); the ratio is of the
medians. Writes ``bench/results/history.md``, one table per database.

PostgreSQL: a scratch database is made on ``BENCH_POSTGRES_URL`` (default the local server's
``bench_history``, dropped and made again) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bench import bench_recorder as loader
from bench.report import publish
from persistence import HistoryStore, make_engine, upgrade_schema
from persistence.models import Conversation, Message, Run, RunEvent, ToolCallRow

RESULTS = Path(__file__).resolve().parent / "results" / "history.md"
PG_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_history"
)
RARE_WORD = "zanzibar"
ROOT = Path(__file__).resolve().parents[1]
BASE_REVISION = "de632f3"
"""The revision before the history's query work (issue 16): its queries are timed alongside."""


def _run_number(row: dict[str, Any]) -> int:
    return int(row["run_id"].removeprefix("run_"))


def _regrouped(rows: Iterator[dict[str, Any]], per_conversation: int) -> Iterator[dict[str, Any]]:
    """The loader's rows with run r in conversation r // `per_conversation` (it uses 10)."""
    for row in rows:
        run = _run_number(row) if "run_id" in row else int(row["id"].removeprefix("run_"))
        if "conversation_id" in row:
            row["conversation_id"] = f"thread_{run // per_conversation:07d}"
        yield row


def _with_usage(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Runs with token usage; a failed one has tokens but no price (its cost is unknown)."""
    for row in rows:
        failed = row["status"] == "failed"
        row.update(prompt_tokens=900, completion_tokens=100, total_tokens=1000, model="gpt-bench",
                   cost_usd=None if failed else 0.0015)  # fmt: skip
        yield row


def _with_rare_word(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """One message in the whole database says `RARE_WORD`."""
    for row in rows:
        if row["run_id"] == "run_00000007" and row["role"] == "user":
            row["text"] = f"{row['text']} And {RARE_WORD.capitalize()}?"
        yield row


def populate(engine: Engine, conversations: int, per_conversation: int) -> float:
    """Fill an empty database; returns the seconds it took (ANALYZE included)."""
    started = time.perf_counter()
    runs = conversations * per_conversation
    loads: list[tuple[Any, Iterator[dict[str, Any]]]] = [
        (Conversation, loader.conversation_rows(conversations * 10)),
        (Run, _with_usage(_regrouped(loader.run_rows(runs), per_conversation))),
        (RunEvent, _regrouped(loader.event_rows(runs), per_conversation)),
        (Message, _with_rare_word(_regrouped(loader.message_rows(runs), per_conversation))),
        (ToolCallRow, _regrouped(loader.tool_rows(runs), per_conversation)),
    ]
    for model, rows in loads:
        for chunk in loader._chunks(rows):
            with engine.begin() as connection:
                connection.execute(insert(model), chunk)
    # As a settled database is: statistics, and on PostgreSQL the visibility map (index-only
    # scans) that autovacuum would have set.
    analyze = "VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(analyze))
    return time.perf_counter() - started


def before_module(revision: str) -> ModuleType | None:
    """`persistence.history` as it was at `revision` (git), to time side by side; None when
    git cannot give it."""
    try:
        source = subprocess.run(
            ["git", "show", f"{revision}:persistence/history.py"],
            cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
        ).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    module = ModuleType("history_before")
    exec(compile(source, f"{revision}:persistence/history.py", "exec"), module.__dict__)  # noqa: S102
    return module


CONVERSATION_QUERIES: dict[str, dict[str, Any]] = {
    "list_conversations page 1": {"limit": 50},
    "list_conversations page 100": {"limit": 50, "offset": 4950},
    "list_conversations status=failed": {"status": "failed", "limit": 50},
    "list_conversations text='tsla' (half match)": {"text": "tsla", "limit": 50},
    f"list_conversations text='{RARE_WORD}' (one match)": {"text": RARE_WORD, "limit": 50},
    "list_conversations text='nothing-matches'": {"text": "nothing-matches", "limit": 50},
}


def queries(store: HistoryStore, befores: dict[str, ModuleType]) -> dict[str, Callable[[], object]]:
    """What the history page asks, by name; and its conversation queries as each revision of
    `befores` had them (named ``... [REVISION]``)."""
    first = store.list_conversations(limit=1).items[0]
    run = store.list_runs(first.id, newest_first=True, limit=1).items[0]
    calls: dict[str, Callable[[], object]] = {}
    for name, kwargs in CONVERSATION_QUERIES.items():
        calls[name] = partial(store.list_conversations, **kwargs)
        for revision, before in befores.items():
            calls[f"{name} [{revision}]"] = partial(
                _in_session, store, before.list_conversations, kwargs
            )
    calls["list_runs (one conversation)"] = partial(store.list_runs, first.id)
    calls["list_run_events (one run)"] = partial(store.list_run_events, run.id)
    calls["run_timeline (one run)"] = partial(store.run_timeline, run.id)
    return calls


def _in_session(
    store: HistoryStore, query: Callable[..., object], kwargs: dict[str, Any]
) -> object:
    with Session(store.engine) as session:
        return query(session, **kwargs)


def time_queries(
    calls: dict[str, Callable[[], object]], repeat: int
) -> dict[str, tuple[float, float, float]]:
    """(min, median, max) milliseconds per query, the queries interleaved round by round."""
    for call in calls.values():
        call()  # warm the caches and the connection pool
    timings: dict[str, list[float]] = {name: [] for name in calls}
    order = list(calls)
    for _ in range(repeat):
        random.shuffle(order)
        for name in order:
            started = time.perf_counter()
            calls[name]()
            timings[name].append((time.perf_counter() - started) * 1000)
    return {
        name: (min(values), statistics.median(values), max(values))
        for name, values in timings.items()
    }


def _fresh_postgres(url: str) -> str:
    name = make_url(url).database
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url


def _drop_postgres(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def run_kind(url: str, args: argparse.Namespace) -> dict[str, Any]:
    engine = make_engine(url)
    try:
        upgrade_schema(engine)
        populate_s = populate(engine, args.conversations, args.runs_per_conversation)
        store = HistoryStore(engine)
        load_before = os.getloadavg()[0]
        befores = {revision: before_module(revision) for revision in args.before}
        found = {revision: module for revision, module in befores.items() if module is not None}
        timings = time_queries(queries(store, found), args.repeat)
        load_after = os.getloadavg()[0]
    finally:
        engine.dispose()
    return {"populate_s": populate_s, "timings": timings, "load": (load_before, load_after)}


def table(kind: str, result: dict[str, Any], revisions: list[str]) -> str:
    """One database's timings: now, and as each revision had them (same run) with the ratio."""
    timings = result["timings"]
    columns = ["now"]
    for revision in revisions:
        columns += [revision, f"now/{revision}"]
    head = f"| {kind}: query (ms: min / median / max) | " + " | ".join(columns) + " |\n"
    head += "|---|" + "---:|" * len(columns) + "\n"
    body = ""
    for name in (n for n in timings if not n.endswith("]")):
        now = timings[name]
        cells = [_cell(now)]
        for revision in revisions:
            before = timings.get(f"{name} [{revision}]")
            cells.append(_cell(before) if before else "")
            cells.append(f"{now[1] / before[1]:.2f}x" if before else "")
        body += f"| {name} | " + " | ".join(cells) + " |\n"
    low, high = result["load"]
    blank = " |" * (len(columns) - 1)
    return (
        head
        + body
        + f"| 1-minute load average (before → after the timing) | {low:.1f} → {high:.1f} |{blank}\n"
        + f"| bulk load (s) | {result['populate_s']:.0f} |{blank}\n"
    )


def _cell(timing: tuple[float, float, float]) -> str:
    low, middle, high = timing
    return f"{low:.1f} / **{middle:.1f}** / {high:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--runs-per-conversation", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=15, help="timed calls of each query")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--keep", type=Path, help="make the sqlite database here and keep it")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument(
        "--before",
        action="append",
        help="git revision whose persistence/history.py is timed alongside, repeatable "
        f"(default {BASE_REVISION}; 'none': skip)",
    )
    args = parser.parse_args()
    args.before = [r for r in args.before or [BASE_REVISION] if r != "none"]
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as folder:
        path = args.keep or Path(folder) / "history.db"
        path.unlink(missing_ok=True)
        print("benchmarking sqlite...", flush=True)
        results["sqlite"] = run_kind(f"sqlite:///{path}", args)
    if not args.no_postgres:
        print("benchmarking postgresql...", flush=True)
        url = _fresh_postgres(PG_URL)
        try:
            results["postgresql"] = run_kind(url, args)
        finally:
            _drop_postgres(url)
    report = (
        "# History queries benchmark\n\n"
        f"`{' '.join(['python -m bench.bench_history', *sys.argv[1:]])}` on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} CPUs shared with other work; {args.conversations:,} conversations "
        f"of {args.runs_per_conversation} runs; {args.repeat} interleaved rounds. sqlite: WAL "
        "file on local disk; PostgreSQL: local server.\n\n"
        + "\n".join(table(kind, result, args.before) for kind, result in results.items())
    )
    publish(report, args.results)


if __name__ == "__main__":
    main()
