"""Many conversations over several processes recording into one PostgreSQL database: does the
throughput grow with the processes, and is anything lost?

    python -m bench.bench_processes [--conversations 10000] [--processes 1,2,4]
                                    [--concurrent 500] [--delay 0.5]

For each process count N, the same work: `--conversations` in all, split evenly over N worker
processes against one emulator process, every worker recording into the same PostgreSQL
database (`bench_concurrency`, dropped and made again for each N, so every count starts from
an empty database; it is this bench's own). Each worker runs its share with up to
`--concurrent` users at a time (as a server with that many connected users), each user
starting a conversation, one exchange (a tool call, then a reply), closing it; the toolkit's
admission is left at its default (adaptive).

Reported per N: wall time from the go to the last worker's recorder having stored everything,
conversations per second and the ratio to one process, the workers' CPU and the emulator's.
Then what was lost, checked three ways: every event a worker published is a row of
`run_events` (counted in the database), every conversation's exchange completed (the workers
say, and the journal's finished exchanges agree), and the emulator holds each conversation
exactly once with exactly one exchange in it (no duplicate message, call or output, nothing
left running). Skipped, with a message, when PostgreSQL is not reachable at 127.0.0.1:5432.
Writes `bench/results/processes.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import ROOT, EmulatorProcess, describe_machine, load_average  # noqa: E402
from bench.report import publish  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "processes.md"
DATABASE = "bench_concurrency"
SERVER = "host=127.0.0.1 port=5432 user=postgres"
QUESTION = "price of AAPL"


def database_url(name: str = DATABASE) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


# -- the worker (one process) ---------------------------------------------------------------


async def work(args: argparse.Namespace) -> dict[str, Any]:
    """Run this worker's share; what it did, as JSON for the parent."""
    from conversation import load_settings
    from conversation.wiring import wire_to_server
    from mediator.bus import subscribe
    from persistence import start_recording
    from proxies.policy import ExchangePolicy

    settings = load_settings(
        {
            "RECORD_EVENTS": "true",
            "DATABASE_URL": args.database_url,
            "QUOTE_SOURCE": "simulated",
        },
        dotenv_path=None,
    )
    policy = ExchangePolicy(deadline_s=600)
    published = [0]

    def count(_: object) -> None:
        published[0] += 1

    subscription = subscribe(count)  # every event this process publishes, every topic
    errors: Counter[str] = Counter()
    completed = [0]
    users = asyncio.Semaphore(args.concurrent)

    async def one_user() -> None:
        async with users:
            user = wire_to_server(args.base_url, policy=policy, settings=settings)
            try:
                await user.open()
                await user.ask(QUESTION)
                completed[0] += 1
            except Exception as exc:  # counted and reported: a lost conversation
                errors[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
            finally:
                await user.aclose()

    print("ready", flush=True)
    sys.stdin.readline()  # the go: every worker starts together
    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one_user() for _ in range(args.users)))
    exchanges_s = time.perf_counter() - wall
    start_recording(args.database_url, install_signals=False).close()  # all stored
    subscription.close()
    return {
        "completed": completed[0],
        "errors": dict(errors),
        "published": published[0],
        "exchanges_s": exchanges_s,
        "wall_s": time.perf_counter() - wall,
        "cpu_s": time.process_time() - cpu,
    }


# -- the parent -----------------------------------------------------------------------------


@dataclass
class Outcome:
    processes: int
    conversations: int
    wall_s: float
    cpu_s: float
    emulator_cpu_s: float
    completed: int
    errors: Counter[str] = field(default_factory=Counter)
    published: int = 0
    stored: int = 0
    journal_done: int = 0
    held: int = 0
    off: int = 0
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)


def postgres_missing() -> str | None:
    """Why PostgreSQL cannot be used, or None."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed"
    try:
        with psycopg.connect(f"{SERVER} dbname=postgres", connect_timeout=5):
            return None
    except psycopg.Error as exc:
        return f"no PostgreSQL at 127.0.0.1:5432 ({str(exc).strip().splitlines()[0]})"


def fresh_database() -> None:
    """Drop and make again this bench's own database, then give it the toolkit's schema."""
    import psycopg

    with psycopg.connect(f"{SERVER} dbname=postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    # The schema once, here, as an operator would (`db_setup.py`) before starting servers.
    subprocess.run(
        [sys.executable, "db_setup.py", "--url", database_url()],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def count_rows() -> tuple[int, int]:
    """Rows of `run_events`, and journal exchanges that ended completed."""
    import psycopg

    with psycopg.connect(f"{SERVER} dbname={DATABASE}") as connection:
        events = connection.execute("SELECT count(*) FROM run_events").fetchone()
        done = connection.execute(
            "SELECT count(DISTINCT exchange_id) FROM journal "
            "WHERE kind = 'ended' AND detail = 'completed'"
        ).fetchone()
    assert events is not None
    assert done is not None
    return int(events[0]), int(done[0])


def run(processes: int, args: argparse.Namespace) -> Outcome:
    fresh_database()
    shares = [args.conversations // processes] * processes
    shares[0] += args.conversations - sum(shares)
    with EmulatorProcess(args.delay) as emulator:
        _, emulator_cpu_before = emulator.stats()
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.bench_processes",
                    "--worker",
                    "--users",
                    str(share),
                    "--concurrent",
                    str(args.concurrent),
                    "--base-url",
                    emulator.base_url,
                    "--database-url",
                    database_url(),
                ],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for share in shares
        ]
        for worker in workers:  # every worker has imported what it needs
            assert worker.stdout is not None
            if worker.stdout.readline().strip() != "ready":
                raise RuntimeError("a worker did not start")
        started = time.perf_counter()
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        reports = []
        for worker in workers:
            out, _ = worker.communicate()
            reports.append(json.loads(out.strip().splitlines()[-1]))
        wall = time.perf_counter() - started
        _, emulator_cpu_after = emulator.stats()
        held, off = emulator.audit()
    stored, journal_done = count_rows()
    errors: Counter[str] = Counter()
    for report in reports:
        errors.update(report["errors"])
    return Outcome(
        processes=processes,
        conversations=args.conversations,
        wall_s=wall,
        cpu_s=sum(r["cpu_s"] for r in reports),
        emulator_cpu_s=emulator_cpu_after - emulator_cpu_before,
        completed=sum(r["completed"] for r in reports),
        errors=errors,
        published=sum(r["published"] for r in reports),
        stored=stored,
        journal_done=journal_done,
        held=held,
        off=off,
        load=load_average(),
    )


def report(args: argparse.Namespace, outcomes: list[Outcome], loads: list[Any]) -> str:
    base = next((o for o in outcomes if o.processes == 1), outcomes[0])
    base_rate = base.conversations / base.wall_s
    lines = [
        f"{args.conversations} conversations in all (each: start, one exchange with a tool "
        f"call, close; model turns of {args.delay:g} s), split over N worker processes "
        f"(at most {args.concurrent} users at a time in each) against one emulator process, "
        f"all recording into one PostgreSQL database (dropped and made again for each N); "
        f"{describe_machine(loads)}. Wall time runs from the go to the last worker's "
        f"recorder having stored everything. One run per N, in the order given.",
        "",
        "| processes | wall (s) | conversations / s | ratio to 1 process | workers' CPU (s) "
        "| emulator CPU (s) | load after |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        rate = o.conversations / o.wall_s
        lines.append(
            f"| {o.processes} | {o.wall_s:.1f} | {rate:.1f} | {rate / base_rate:.2f}x | "
            f"{o.cpu_s:.1f} | {o.emulator_cpu_s:.1f} | {o.load[0]:.2f} |"
        )
    lines += [
        "",
        "Nothing lost? Events published by the workers against rows of `run_events`; "
        "exchanges completed (workers, and the journal's finished exchanges); conversations "
        "the emulator holds, and those holding anything but exactly one exchange (a duplicate "
        "message, call or output, or a run left active).",
        "",
        "| processes | events published | rows stored | missing | completed | journal completed "
        "| failed | held by the emulator | not exactly one exchange |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        failed = sum(o.errors.values())
        lines.append(
            f"| {o.processes} | {o.published} | {o.stored} | {o.published - o.stored} | "
            f"{o.completed} | {o.journal_done} | {failed} | {o.held} | {o.off} |"
        )
    errors = Counter[str]()
    for o in outcomes:
        errors.update(o.errors)
    if errors:
        lines += ["", "Failures:", ""]
        lines += [f"- {count} x {text}" for text, count in errors.most_common(10)]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--processes", default="1,2,4", help="process counts, comma-separated")
    parser.add_argument("--concurrent", type=int, default=500, help="users at a time per worker")
    parser.add_argument("--delay", type=float, default=0.5, help="seconds per model turn")
    parser.add_argument("--output", type=Path, default=RESULTS)
    # A worker's own options (the parent starts workers with these).
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--users", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--base-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(asyncio.run(work(args))), flush=True)
        return 0
    missing = postgres_missing()
    if missing is not None:
        print(
            f"bench_processes skipped: {missing}. It needs a PostgreSQL server it may "
            f"create a database on (trust auth, user postgres)."
        )
        return 0
    counts = [int(n) for n in args.processes.split(",")]
    loads = [load_average()]
    outcomes = []
    for processes in counts:
        outcome = run(processes, args)
        outcomes.append(outcome)
        loads.append(outcome.load)
        print(
            f"{processes} process(es): {outcome.wall_s:.1f} s, {outcome.completed} completed, "
            f"{outcome.published - outcome.stored} events missing, {outcome.off} off on the "
            f"server, load {outcome.load[0]:.2f}",
            flush=True,
        )
    text = report(args, outcomes, loads)
    publish(text, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
