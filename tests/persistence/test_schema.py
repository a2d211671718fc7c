"""db_setup.py and the Alembic revisions: safe to rerun, upgrades keep every row."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session

import db_setup
from persistence import (
    HistoryStore,
    Recorder,
    SchemaError,
    SchemaNotReadyError,
    check_schema,
    head_revision,
    make_engine,
    upgrade_schema,
)
from persistence.models import Base
from persistence.schema import current_revision
from tests.persistence.v1_data import (
    FIXTURE,
    V1_TABLES,
    build_v1_sqlite,
    dump_sqlite,
    insert_v1_rows,
    v1_rows,
)

ROOT = Path(__file__).resolve().parents[2]


def run_db_setup(url: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "db_setup.py", "--url", url],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def schema_snapshot(engine: Engine) -> dict[str, Any]:
    """Tables, columns, indexes and the revision: what db_setup may change."""
    with engine.connect() as connection:
        inspector = inspect(connection)
        tables = sorted(inspector.get_table_names())
        return {
            "revision": MigrationContext.configure(connection).get_current_revision(),
            "columns": {
                t: [(c["name"], str(c["type"])) for c in inspector.get_columns(t)] for t in tables
            },
            "indexes": {
                t: sorted(_index_text(i) for i in inspector.get_indexes(t)) for t in tables
            },
        }


def _index_text(index: Any) -> str:
    """An index as reflected, its options' SQL as text (a partial index's WHERE is an object)."""
    options = {key: str(value) for key, value in index.get("dialect_options", {}).items()}
    return str({**index, "dialect_options": options})


def v1_table_rows(
    engine: Engine, columns: dict[str, list[str]] | None = None
) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the revision-0001 tables, in `columns` (default: the tables' columns now,
    which are the revision-0001 ones before an upgrade)."""
    rows: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as connection:
        for table in v1_rows():
            names = (columns or {}).get(table) or [
                c["name"] for c in inspect(connection).get_columns(table)
            ]
            rows[table] = sorted(
                tuple(r)
                for r in connection.execute(text(f"SELECT {', '.join(names)} FROM {table}"))
            )
    return rows


def table_columns(engine: Engine) -> dict[str, list[str]]:
    with engine.connect() as connection:
        inspector = inspect(connection)
        return {t: [c["name"] for c in inspector.get_columns(t)] for t in v1_rows()}


def test_db_setup_twice_creates_then_changes_nothing(db_url: str) -> None:
    head = head_revision()
    assert run_db_setup(db_url).startswith(f"created schema at revision {head} in ")
    engine = make_engine(db_url)
    try:
        before = schema_snapshot(engine)
        assert run_db_setup(db_url).startswith(f"already at head {head}, nothing to do")
        assert schema_snapshot(engine) == before
        assert before["revision"] == head
    finally:
        engine.dispose()


def test_db_setup_upgrades_a_v1_database_keeping_every_row(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        upgrade_schema(engine, "0001")
        with engine.begin() as connection:
            insert_v1_rows(connection)
        before = v1_table_rows(engine)
        v1_columns = table_columns(engine)
        assert sum(len(rows) for rows in before.values()) == sum(len(r) for r in v1_rows().values())
        assert run_db_setup(db_url).startswith(f"upgraded 0001 -> {head_revision()}")
        assert v1_table_rows(engine, v1_columns) == before
        check_v2_additions(engine)
    finally:
        engine.dispose()


def check_v2_additions(engine: Engine) -> None:
    """Revision 0002's titles are filled from the old messages; text search finds old rows."""
    with engine.connect() as connection:
        titles = dict(connection.execute(text("SELECT id, title FROM conversations")).all())
    assert titles == {"thread_v1_a": "Price of AAPL?", "thread_v1_empty": None}
    store = HistoryStore(engine)
    assert [c.id for c in store.list_conversations(text="tsla").items] == ["thread_v1_a"]
    assert [c.id for c in store.list_conversations(status="failed").items] == ["thread_v1_a"]


def test_committed_v1_fixture_upgrades_with_its_rows_intact(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    connection = sqlite3.connect(path)
    connection.executescript(FIXTURE.read_text())
    connection.close()
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    try:
        assert current_revision(engine) == "0001"
        before = v1_table_rows(engine)
        v1_columns = table_columns(engine)
        assert len(before["run_events"]) == 10
        assert db_setup.main(["--url", url]) == 0
        assert current_revision(engine) == head_revision()
        assert v1_table_rows(engine, v1_columns) == before
        check_v2_additions(engine)
    finally:
        engine.dispose()


def test_committed_v1_fixture_is_what_revision_0001_makes(tmp_path: Path) -> None:
    """Regenerating the fixture gives the committed file: revision 0001 was not edited."""
    path = tmp_path / "v1.db"
    build_v1_sqlite(path)
    assert dump_sqlite(path) == FIXTURE.read_text()


def _ignore_search_objects(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    return not (name or "").startswith(("messages_fts", "ix_messages_text_search"))


def test_migrations_at_head_match_the_models(db_engine: Engine) -> None:
    with db_engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"include_object": _ignore_search_objects, "compare_type": True},
        )
        assert compare_metadata(context, Base.metadata) == []


def test_downgrade_to_0001_and_upgrade_again(db_engine: Engine) -> None:
    head = head_revision()
    from alembic import command

    from persistence.schema import alembic_config

    config = alembic_config(db_engine)
    with db_engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
        connection.commit()
    assert current_revision(db_engine) == "0001"
    assert upgrade_schema(db_engine).describe().startswith(f"upgraded 0001 -> {head}")


def test_recorder_refuses_a_server_database_without_schema(pg_url: str) -> None:
    recorder = Recorder(pg_url)
    with pytest.raises(SchemaNotReadyError, match=r"python db_setup\.py") as info:
        recorder.start()
    assert info.value.current is None
    recorder.close()


def test_recorder_refuses_a_behind_schema_unless_migrating(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade_schema(engine, "0001")
    with pytest.raises(SchemaNotReadyError, match=r"revision 0001, expected .*python db_setup\.py"):
        Recorder(engine, auto_migrate=False).start()
    recorder = Recorder(engine).start()  # sqlite: upgraded automatically
    assert recorder.running
    assert current_revision(engine) == head_revision()
    recorder.close()
    engine.dispose()


def test_unknown_revision_and_foreign_tables_are_clear_errors(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    upgrade_schema(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0999'"))
    with pytest.raises(SchemaError, match="does not know .*newer code"):
        check_schema(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    with pytest.raises(SchemaError, match="no schema revision"):
        upgrade_schema(engine)
    engine.dispose()


def test_db_setup_reports_an_unreachable_database(capsys: pytest.CaptureFixture[str]) -> None:
    assert db_setup.main(["--url", "postgresql+psycopg://nobody@127.0.0.1:9/none"]) == 1
    assert "cannot reach the database at postgresql+psycopg://nobody@127.0.0.1:9/none" in (
        capsys.readouterr().err
    )


def test_sqlite_connections_use_wal_and_a_busy_timeout(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url, busy_timeout_ms=1234)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


assert V1_TABLES == tuple(v1_rows())


def _downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    from persistence.schema import alembic_config

    config = alembic_config(engine)
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
        connection.commit()


def test_upgrade_from_0004_indexes_the_runs_already_there(db_engine: Engine) -> None:
    """Revision 0005 adds the status filter's index on a filled database: every row kept,
    the history's answers unchanged, the index used."""

    from persistence.history import list_conversations
    from tests.persistence.test_history import seed

    _downgrade(db_engine, "0004")
    seed(db_engine)
    with Session(db_engine) as session:
        before = list_conversations(session, status="failed", limit=500)
        runs_before = session.execute(text("SELECT count(*) FROM runs")).scalar_one()
    assert upgrade_schema(db_engine).describe().startswith("upgraded 0004 -> ")
    with db_engine.connect() as connection:
        indexes = {i["name"]: i["column_names"] for i in inspect(connection).get_indexes("runs")}
    assert indexes["ix_runs_status_conversation"] == ["status", "conversation_id"]
    with Session(db_engine) as session:
        assert session.execute(text("SELECT count(*) FROM runs")).scalar_one() == runs_before
        after = list_conversations(session, status="failed", limit=500)
        assert after == before
        assert after.total == 6
        statement = "SELECT DISTINCT conversation_id FROM runs WHERE status = 'failed'"
        if db_engine.dialect.name == "sqlite":
            plan = " ".join(
                str(r[-1]) for r in session.execute(text(f"EXPLAIN QUERY PLAN {statement}"))
            )
        else:
            session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = " ".join(str(r[0]) for r in session.execute(text(f"EXPLAIN {statement}")))
        assert "ix_runs_status_conversation" in plan


def _plan(session: Session, engine: Engine, statement: str) -> str:
    if engine.dialect.name == "sqlite":
        return " ".join(
            str(r[-1]) for r in session.execute(text(f"EXPLAIN QUERY PLAN {statement}"))
        )
    session.execute(text("SET LOCAL enable_seqscan = off"))
    return " ".join(str(r[0]) for r in session.execute(text(f"EXPLAIN {statement}")))


def test_upgrade_from_0005_makes_the_attach_indexes_partial(db_engine: Engine) -> None:
    """Revision 0006: the session and exchange indexes of events and messages hold only rows
    still waiting for their conversation or run; every row is kept, and the writer's attach
    statements still find the waiting rows through them."""

    from tests.persistence.test_history import seed

    _downgrade(db_engine, "0005")
    seed(db_engine)
    with db_engine.begin() as connection:  # a row stored before its conversation and run
        connection.execute(
            text(
                "INSERT INTO run_events (event_uuid, session_id, exchange_id, seq, type, topic,"
                " state, at) VALUES ('e-waiting', 's-new', 'x-new', 0, 'StateChanged', 't',"
                " 'ready', '2026-12-02 10:00:00')"
            )
        )
    counts = "SELECT (SELECT count(*) FROM run_events), (SELECT count(*) FROM messages)"
    with db_engine.connect() as connection:
        before = tuple(connection.execute(text(counts)).one())
    assert upgrade_schema(db_engine).describe().startswith("upgraded 0005 -> ")
    with db_engine.connect() as connection:
        assert tuple(connection.execute(text(counts)).one()) == before
        inspector = inspect(connection)
        for table in ("run_events", "messages"):
            partial = {
                i["name"]: str(i.get("dialect_options", {}).get(f"{db_engine.dialect.name}_where"))
                for i in inspector.get_indexes(table)
            }
            assert "conversation_id IS NULL" in partial[f"ix_{table}_session_id"]
            assert "run_id IS NULL" in partial[f"ix_{table}_exchange_id"]
        run_indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes("runs")}
        assert run_indexes["ix_runs_exchange_id"] == ["exchange_id"]
    with Session(db_engine) as session:
        by_session = (
            "SELECT id FROM run_events WHERE session_id = 's-new' AND conversation_id IS NULL"
        )
        assert session.execute(text(by_session)).scalars().all() != []
        assert "ix_run_events_session_id" in _plan(session, db_engine, by_session)
    with Session(db_engine) as session:
        by_exchange = "SELECT id FROM run_events WHERE exchange_id = 'x-new' AND run_id IS NULL"
        assert "ix_run_events_exchange_id" in _plan(session, db_engine, by_exchange)
