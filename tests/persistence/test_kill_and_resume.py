"""Issue 10: exactly-once tools and resume after the process dies.

A conversation runs in a child process that is killed with SIGKILL at one point of an
exchange with a tool call: before the run starts, while the model thinks, inside the tool,
after the tool returned but before the outputs reached the server, after they did. A fresh
process then resumes it with `resume_conversation`: the exchange completes, the tool ran once
per call id (or not again, with an "outcome unknown" output, when a non-idempotent tool was
killed inside), the server holds no duplicates, and the next message works.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import text

from emulator import CallTools, EmulatorServer, Fault, Holdings, Reply, ScriptedModel, ToolSpec
from mediator.journal import JournalCall, JournalExchange
from persistence import DatabaseJournal, make_engine, upgrade_schema

ROOT = Path(__file__).resolve().parents[2]

# Each test runs two or three Python processes one after the other: on a busy machine their
# start-up alone can take longer than the suite's 60 s per test.
pytestmark = pytest.mark.timeout(300)
PRICE = ToolSpec("get_stock_price", {"symbol": "AAPL"})
SLOW_TURN_S = 1.5
T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 90.0) -> T:
    """Poll `probe` until it gives something truthy: the state the test needs, not a sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout} s")
        time.sleep(0.01)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(poll_after_ms=10, queue_delay=0.0) as server:
        yield server


@dataclass
class Child:
    process: subprocess.Popen[str]
    lines: list[str]

    def line(self, prefix: str) -> str:
        """The first line starting with `prefix`, reading more output as it comes."""
        assert self.process.stdout is not None
        while not any(line.startswith(prefix) for line in self.lines):
            line = self.process.stdout.readline()
            if not line:
                raise AssertionError(f"the child ended without {prefix!r}: {self.lines}")
            self.lines.append(line.rstrip("\n"))
        return next(line for line in self.lines if line.startswith(prefix))


def _run_child(args: list[str], env: dict[str, str], log: Path) -> Child:
    with log.open("w") as errors:  # the child's warnings, for the failure message
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.persistence.kill_child", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    return Child(process, [])


def _paths(protocol: str, step: str) -> tuple[str, str, int]:
    if protocol == "responses":
        return {"create": ("POST", "/responses", 1), "submit": ("POST", "/responses", 2)}[step]
    return {
        "create": ("POST", "/threads/[^/]+/runs", 1),
        "submit": ("POST", "/threads/[^/]+/runs/[^/]+/submit_tool_outputs", 1),
    }[step]


POINTS = ["before_run", "thinking", "inside_tool", "after_tool", "after_submit"]
BOTH = ("responses", "assistants")
CELLS = [
    *((point, protocol, "stream", False) for point in POINTS for protocol in BOTH),
    *(
        (point, protocol, "poll", False)
        for point in ("inside_tool", "after_tool")
        for protocol in BOTH
    ),
    *(("inside_tool", protocol, "stream", True) for protocol in BOTH),
]


def _kill_at(
    point: str, protocol: str, emulator: EmulatorServer, child: Child, files: dict[str, Path]
) -> None:
    """Wait until the child is at `point`, then SIGKILL it."""
    conversation_id = child.line("CONVERSATION ").split(" ", 1)[1]
    counter = files["counter"]
    if point in ("before_run", "after_tool"):
        method, path, nth = _paths(protocol, "create" if point == "before_run" else "submit")
        held = emulator.faults.add(
            Fault(method=method, path=path, nth=nth, status=None, stall=math.inf)
        )
        wait_for(lambda: emulator.faults.fired(held), f"the child reached {point}")
    elif point == "thinking":
        wait_for(lambda: emulator.holdings(conversation_id).active, "the model is thinking")
    elif point == "inside_tool":
        wait_for(lambda: counter.exists() and "start" in counter.read_text(), "inside the tool")
    elif point == "after_submit":
        method, path, nth = _paths(protocol, "submit")
        seen = emulator.faults.add(Fault(method=method, path=path, nth=nth, status=None))

        def submitted() -> bool:
            held = emulator.holdings(conversation_id)
            taken = held.tool_outputs if protocol == "assistants" else held.active
            return bool(emulator.faults.fired(seen)) and taken == 1

        wait_for(submitted, "the outputs were taken")
    child.process.send_signal(signal.SIGKILL)
    child.process.wait(timeout=60)
    emulator.faults.clear()


def _stop(child: Child) -> None:
    if child.process.poll() is None:
        child.process.kill()
        child.process.wait(timeout=60)
    if child.process.stdout is not None:
        child.process.stdout.close()


@pytest.mark.parametrize(("point", "protocol", "delivery", "idempotent"), CELLS)
def test_killed_at_any_point_a_fresh_process_finishes_the_exchange_running_tools_once(
    emulator: EmulatorServer,
    tmp_path: Path,
    point: str,
    protocol: str,
    delivery: str,
    idempotent: bool,
) -> None:
    db = f"sqlite:///{tmp_path}/conversations.db"
    _kill_and_resume(emulator, tmp_path, db, point, protocol, delivery, idempotent)


@pytest.mark.parametrize(
    ("point", "protocol", "delivery"),
    [("inside_tool", "responses", "stream"), ("after_tool", "assistants", "poll")],
)
def test_a_second_process_sharing_postgresql_finishes_the_exchange(
    emulator: EmulatorServer, tmp_path: Path, pg_url: str, point: str, protocol: str, delivery: str
) -> None:
    engine = make_engine(pg_url)
    upgrade_schema(engine)  # a server database is set up by db_setup.py, as the README says
    engine.dispose()
    _kill_and_resume(emulator, tmp_path, pg_url, point, protocol, delivery, False)


def _kill_and_resume(
    emulator: EmulatorServer,
    tmp_path: Path,
    db: str,
    point: str,
    protocol: str,
    delivery: str,
    idempotent: bool,
) -> None:
    first_turn = SLOW_TURN_S if point == "thinking" else 0.0
    second_turn = SLOW_TURN_S if point == "after_submit" else 0.0
    emulator.model = ScriptedModel(
        [
            CallTools([PRICE], delay=first_turn),
            Reply("AAPL is at 123.45.", delay=second_turn),
            Reply("MSFT: no tool needed for this test."),
        ]
    )
    files = {"counter": tmp_path / "executions.txt", "block": tmp_path / "block"}
    if point == "inside_tool":
        files["block"].touch()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DATABASE_"))},
        "PYTHONPATH": str(ROOT),
        "COUNTER_FILE": str(files["counter"]),
        "BLOCK_FILE": str(files["block"]),
    }
    common = ["--base-url", emulator.base_url, "--db", db, "--protocol", protocol]
    common += ["--delivery", delivery] + (["--idempotent"] if idempotent else [])
    first = _run_child(["start", *common], env, tmp_path / "first.log")
    try:
        conversation_id = first.line("CONVERSATION ").split(" ", 1)[1]
        _kill_at(point, protocol, emulator, first, files)
    finally:
        _stop(first)
    assert first.process.returncode == -signal.SIGKILL
    files["block"].unlink(missing_ok=True)

    second = _run_child(["resume", conversation_id, *common], env, tmp_path / "second.log")
    try:
        resumed = second.line("RESUMED ")
        following = second.line("NEXT ")
        assert second.process.wait(timeout=120) == 0
    finally:
        _stop(second)
    assert "123.45" in resumed or "outcome" in resumed.lower() or resumed != "RESUMED "
    assert following == "NEXT MSFT: no tool needed for this test."

    assert files["counter"].exists(), (second.lines, (tmp_path / "second.log").read_text())
    lines = files["counter"].read_text().split()
    starts = Counter(lines[i + 1] for i in range(0, len(lines), 2) if lines[i] == "start")
    assert len(starts) == 1, f"one call id expected: {starts}"
    (runs,) = starts.values()
    killed_inside = point == "inside_tool"
    assert runs == (2 if killed_inside and idempotent else 1), lines
    calls, last = _journal_of(db, conversation_id)
    assert last is not None
    assert last.ended == "completed"
    journaled = {call.error_type for call in calls}
    assert ("outcome_unknown" in journaled) == (killed_inside and not idempotent)

    held = emulator.holdings(conversation_id)
    assert held == Holdings(
        user_messages=2, assistant_messages=2, function_calls=1, tool_outputs=1, active=0
    )


def _journal_of(db: str, conversation_id: str) -> tuple[list[JournalCall], JournalExchange | None]:
    """Every tool call the journal knows for the conversation, and its last exchange."""
    engine = make_engine(db)
    try:
        with engine.connect() as connection:
            exchanges = connection.execute(
                text("SELECT DISTINCT exchange_id FROM journal WHERE conversation_id = :c"),
                {"c": conversation_id},
            ).scalars()
            ids = list(exchanges)
        journal = DatabaseJournal(engine)
        calls = [c for e in ids if (x := journal.exchange(e)) is not None for c in x.calls]
        return calls, journal.last_exchange(conversation_id)
    finally:
        engine.dispose()


def test_terminal_chat_resume_prints_the_interrupted_reply_then_takes_the_next_message(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.model = ScriptedModel(
        [CallTools([PRICE]), Reply("AAPL is at 123.45."), Reply("MSFT: fine.")]
    )
    db = f"sqlite:///{tmp_path}/conversations.db"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DATABASE_"))},
        "PYTHONPATH": str(ROOT),
        "COUNTER_FILE": str(tmp_path / "executions.txt"),
        "BLOCK_FILE": str(tmp_path / "block"),
    }
    common = ["--base-url", emulator.base_url, "--db", db, "--protocol", "responses"]
    first = _run_child(["start", *common, "--delivery", "stream"], env, tmp_path / "first.log")
    try:
        conversation_id = first.line("CONVERSATION ").split(" ", 1)[1]
        _kill_at("after_tool", "responses", emulator, first, {"counter": tmp_path / "x"})
    finally:
        _stop(first)
    settings = {
        "OPENAI_API_KEY": "not-a-secret",
        "OPENAI_BASE_URL": emulator.base_url,
        "DATABASE_URL": db,
        "ASSISTANT_BACKEND": "responses",
    }
    listed = subprocess.run(
        [sys.executable, str(ROOT / "terminal_chat.py"), "--list"],
        cwd=tmp_path, env={**env, **settings}, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert conversation_id in listed.stdout
    assert "What is the price of AAPL?" in listed.stdout

    resumed = subprocess.run(
        [sys.executable, str(ROOT / "terminal_chat.py"), "--resume", conversation_id],
        input="And the price of MSFT?\nexit\n",
        cwd=tmp_path, env={**env, **settings}, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    out = resumed.stdout
    assert "finishing the interrupted exchange" in out
    assert out.index("AAPL is at 123.45.") < out.index("MSFT: fine.")
    lines = (tmp_path / "executions.txt").read_text().split()
    assert lines.count("start") == 1  # the tool ran in the killed process only
    assert emulator.holdings(conversation_id) == Holdings(
        user_messages=2, assistant_messages=2, function_calls=1, tool_outputs=1, active=0
    )


def test_killed_while_an_approval_is_pending_a_fresh_process_shows_it_and_runs_the_call_once(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    emulator.model = ScriptedModel(
        [CallTools([PRICE]), Reply("AAPL is at 123.45."), Reply("MSFT: fine.")]
    )
    db = f"sqlite:///{tmp_path}/conversations.db"
    counter = tmp_path / "executions.txt"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "DATABASE_"))},
        "PYTHONPATH": str(ROOT),
        "COUNTER_FILE": str(counter),
        "BLOCK_FILE": str(tmp_path / "block"),
    }
    common = ["--base-url", emulator.base_url, "--db", db, "--protocol", "assistants"]
    common += ["--delivery", "stream", "--approve"]
    first = _run_child(["start", *common], env, tmp_path / "first.log")
    engine = make_engine(db)
    try:
        conversation_id = first.line("CONVERSATION ").split(" ", 1)[1]
        journal = DatabaseJournal(engine)

        def pending() -> bool:
            last = journal.last_exchange(conversation_id)
            return last is not None and bool(last.pending_approvals)

        wait_for(pending, "the approval is pending in the journal")
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=60)
    finally:
        _stop(first)
    assert not counter.exists()  # nobody approved: the tool never ran

    second = _run_child(["resume", conversation_id, *common], env, tmp_path / "second.log")
    try:
        shown = second.line("PENDING ")
        resumed = second.line("RESUMED ")
        following = second.line("NEXT ")
        assert second.process.wait(timeout=120) == 0
    finally:
        _stop(second)
        last = DatabaseJournal(engine).last_exchange(conversation_id)
        engine.dispose()
    assert shown == 'PENDING get_stock_price {"symbol": "AAPL"}'
    assert resumed == "RESUMED AAPL is at 123.45."
    assert following.startswith("NEXT ")
    lines = counter.read_text().split()
    assert lines.count("start") == 1, lines  # approved once, run once
    assert emulator.holdings(conversation_id) == Holdings(
        user_messages=2, assistant_messages=2, function_calls=1, tool_outputs=1, active=0
    )
    assert last is not None
    assert last.ended == "completed"
