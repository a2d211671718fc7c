"""Start-up: importing the toolkit loads nothing the chosen mode may not use, and a
conversation with recording off neither imports SQLAlchemy nor touches ./dbstorage."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from pathlib import Path

from mediator.journal import MemoryJournal
from proxies.journaling import journaled

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("sqlalchemy", "alembic", "openai", "emulator", "uvicorn")

PROBE = f"""
import sys
import conversation, persistence
before = [m for m in {HEAVY!r} if m in sys.modules]
from conversation.wiring import wire_to_server
wire_to_server("http://127.0.0.1:9/v1")  # builds the conversation; sends nothing
print(before, "sqlalchemy" in sys.modules)
"""


def test_import_is_light_and_recording_off_loads_no_database(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RECORD_EVENTS": "false"}
    env.pop("DATABASE_URL", None)  # a URL given is checked, with SQLAlchemy's parser
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.split() == ["[]", "False"], result.stdout + result.stderr
    assert list(tmp_path.iterdir()) == []  # no ./dbstorage: RECORD_EVENTS=false was honoured


async def test_a_journal_that_never_blocks_is_called_inline() -> None:
    threads: list[threading.Thread] = []

    class Watched(MemoryJournal):
        def exchange(self, exchange_id: str) -> None:  # type: ignore[override]
            threads.append(threading.current_thread())

    await journaled(Watched().exchange, "x")
    assert threads == [threading.current_thread()]
    assert asyncio.get_running_loop().is_running()
