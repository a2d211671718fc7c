"""Several processes and a SIGTERM: nothing published is lost, nothing is stored twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from persistence import make_engine, upgrade_schema
from persistence.models import RunEvent

ROOT = Path(__file__).resolve().parents[2]
CONVERSATIONS_PER_PROCESS = 20


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    env["PYTHONPATH"] = str(ROOT)
    env["QUOTE_SOURCE"] = "simulated"
    return env


def _spawn(module: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stored_per_session(engine: Engine) -> Counter[str]:
    with Session(engine) as session:
        rows = session.execute(
            select(RunEvent.session_id, func.count()).group_by(RunEvent.session_id)
        ).all()
    return Counter({session_id or "": count for session_id, count in rows})


def assert_each_exchange_numbered_once(engine: Engine) -> None:
    """Within every exchange the stored seqs are exactly 0..n-1: no gap, no duplicate."""
    with Session(engine) as session:
        rows = session.execute(select(RunEvent.exchange_id, RunEvent.seq)).all()
    seqs: dict[str, list[int]] = {}
    for exchange_id, seq in rows:
        seqs.setdefault(exchange_id, []).append(seq)
    assert seqs
    assert all(sorted(v) == list(range(len(v))) for v in seqs.values())


def test_two_processes_writing_at_once_lose_and_duplicate_nothing(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade_schema(engine)
        args = ("--url", db_url, "--conversations", str(CONVERSATIONS_PER_PROCESS))
        writers = [_spawn("tests.persistence.writer", *args) for _ in range(2)]
        published: Counter[str] = Counter()
        for writer in writers:
            out, err = writer.communicate(timeout=90)
            assert writer.returncode == 0, err[-3000:]
            report = json.loads(out.strip().splitlines()[-1])
            assert report["stored_all"] is True
            assert len(report["published"]) == CONVERSATIONS_PER_PROCESS
            published.update(report["published"])
        assert len(published) == 2 * CONVERSATIONS_PER_PROCESS
        assert stored_per_session(engine) == published
        assert_each_exchange_numbered_once(engine)
    finally:
        engine.dispose()


def _read_line(process: subprocess.Popen[str], prefix: str, within_s: float) -> str:
    """The child's next stdout line starting with `prefix` (the child prints few lines)."""
    assert process.stdout is not None
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith(prefix):
            return line.strip()
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"no {prefix!r} line from the child; stderr: {_stderr(process)}")


def _stderr(process: subprocess.Popen[str]) -> str:
    if process.poll() is None:
        process.kill()
    return process.communicate(timeout=30)[1][-3000:]


def test_sigterm_mid_conversation_loses_no_published_event(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade_schema(engine)
        child = _spawn("tests.persistence.sigterm_child", "--url", db_url)
        try:
            _read_line(child, "conversing", within_s=30)
            child.send_signal(signal.SIGTERM)
            published = int(_read_line(child, "published", within_s=30).split()[1])
            _, err = child.communicate(timeout=30)
            assert child.returncode == 0, err[-3000:]
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate(timeout=30)
        assert published > 0
        assert sum(stored_per_session(engine).values()) == published
        assert_each_exchange_numbered_once(engine)
    finally:
        engine.dispose()
