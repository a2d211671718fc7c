"""The package surface: exported names, nothing at import time, DATABASE_URL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import persistence
from persistence import DEFAULT_DATABASE_URL, database_url, display_url, make_engine

ROOT = Path(__file__).resolve().parents[2]


def test_exported_names_are_pinned() -> None:
    assert sorted(persistence.__all__) == sorted(
        [
            "DEFAULT_DATABASE_URL", "MAX_LIMIT", "ApprovalSpan", "AssistantRecord", "AssistantRow",
            "AssistantStore", "ConversationFilter",
            "ConversationRow", "DatabaseJournal", "DatabaseUnavailableError", "HistoryQueryError",
            "HistoryStore", "shared_engine",
            "MessageRow", "Page", "PersistenceError", "Recorder", "RecorderStats", "RunEventRow",
            "RunNotFoundError", "RunRow", "SchemaChange", "SchemaError", "SchemaNotReadyError",
            "StateSpan", "Timeline", "ToolSpan", "Transcript", "TranscriptCall", "TranscriptTurn",
            "check_schema", "count_conversations", "current_recorder",
            "count_runs", "database_url", "display_url", "head_revision",
            "install_signal_handlers", "list_assistants", "list_conversations", "list_messages",
            "list_run_events", "list_runs", "make_engine", "run_timeline", "start_recording",
            "upgrade_schema", "CostPoint", "UsageTotals",
        ]
    )  # fmt: skip
    assert all(hasattr(persistence, name) for name in persistence.__all__)


def test_importing_creates_nothing(tmp_path: Path) -> None:
    code = (
        "import persistence, persistence.recorder, persistence.history, persistence.process, "
        "persistence.schema, persistence.models, persistence.writer, persistence.timeline"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True, timeout=60)
    assert list(tmp_path.iterdir()) == []


def test_database_url_default_and_environment() -> None:
    assert database_url({}) == DEFAULT_DATABASE_URL == "sqlite:///dbstorage/assistant_mediator.db"
    assert database_url({"DATABASE_URL": "  "}) == DEFAULT_DATABASE_URL
    url = "postgresql+psycopg://app:secret@db.example/app"
    assert database_url({"DATABASE_URL": url}) == url
    assert display_url(url) == "postgresql+psycopg://app:***@db.example/app"


def test_the_engine_makes_the_default_folder_not_the_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert not (tmp_path / "dbstorage").exists()
    engine = make_engine()
    assert (tmp_path / "dbstorage").is_dir()
    assert not (tmp_path / "dbstorage" / "assistant_mediator.db").exists()  # no connection yet
    assert engine.url.database == "dbstorage/assistant_mediator.db"
    engine.dispose()


def test_assistant_store_round_trips_a_definition(tmp_path: object) -> None:
    from persistence import AssistantRecord, AssistantStore

    store = AssistantStore(f"sqlite:///{tmp_path}/assistants.db")
    record = AssistantRecord(
        id="asst_local_1",
        name="Demo",
        model="offline-demo",
        backend="responses",
        instructions="Be brief.",
        tools=({"type": "function", "name": "get_stock_price", "parameters": {}},),
    )
    assert store.get("asst_local_1") is None
    store.save(record)
    found = store.get("asst_local_1")
    store.close()
    assert found is not None
    assert (found.name, found.model, found.instructions) == ("Demo", "offline-demo", "Be brief.")
    assert found.tools == record.tools
