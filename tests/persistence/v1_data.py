"""A database made by schema revision 0001, with rows: the upgrade tests' starting point.

`insert_v1_rows` fills a database at revision 0001 with plain SQL (sqlite or PostgreSQL).
`dump_sqlite` writes such a sqlite database as a SQL script; the committed fixture
``fixtures/schema_v1.sql`` is its output, regenerated (only if revision 0001 ever changed,
which it must not) with::

    python -m tests.persistence.v1_data
"""

from __future__ import annotations

import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from persistence import make_engine, upgrade_schema

FIXTURE = Path(__file__).parent / "fixtures" / "schema_v1.sql"
V1_TABLES = ("assistants", "conversations", "runs", "messages", "run_events", "tool_calls")
T0 = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def v1_rows() -> dict[str, list[dict[str, Any]]]:
    """Rows for every revision-0001 table, in insertion order."""
    conv, run_ok, run_bad = "thread_v1_a", "run_v1_ok", "run_v1_failed"
    common = {"session_id": "s" * 32, "conversation_id": conv}
    ex1, ex2 = "e1" * 16, "e2" * 16
    events = [
        (ex1, run_ok, 0, "StateChanged", "stateChanged", "ready", None, None, None, 0.0),
        (ex1, run_ok, 1, "MessageSent", "sentMessage", "ready", "Price of AAPL?", None, None, 0.1),
        (ex1, run_ok, 2, "StateChanged", "stateChanged", "started", None, None, None, 0.5),
        (ex1, run_ok, 3, "ToolExecuted", "executedTool", "tools_executed", '{"symbol": "AAPL"}',
         '{"price": 1}', "get_stock_price", 1.0),
        (ex1, run_ok, 4, "StateChanged", "stateChanged", "completed", None, None, None, 2.0),
        (ex1, run_ok, 5, "MessageRetrieved", "retrievedMessage", "completed", None,
         "AAPL is at 1 USD.", None, 2.1),
        (ex2, run_bad, 0, "StateChanged", "stateChanged", "ready", None, None, None, 10.0),
        (ex2, run_bad, 1, "MessageSent", "sentMessage", "ready", "And TSLA?", None, None, 10.1),
        (ex2, run_bad, 2, "StateChanged", "stateChanged", "failed", None, None, None, 12.0),
        (ex2, run_bad, 3, "ExchangeFailed", "error", "failed", None, "model exploded", None, 12.1),
    ]  # fmt: skip
    return {
        "assistants": [
            {"id": "asst_v1", "name": "Stocks", "model": "gpt-4o-mini", "instructions": "Help.",
             "tools": '[{"type": "function", "name": "get_stock_price"}]',
             "backend": "assistants", "created_at": _at(-60)},
        ],
        "conversations": [
            {"id": conv, "session_id": "s" * 32, "assistant_id": "asst_v1", "backend": "assistants",
             "created_at": _at(0), "updated_at": _at(12.1)},
            {"id": "thread_v1_empty", "session_id": "t" * 32, "assistant_id": None,
             "backend": None, "created_at": _at(20), "updated_at": _at(20)},
        ],
        "runs": [
            {"id": run_ok, "conversation_id": conv, "session_id": "s" * 32, "exchange_id": ex1,
             "status": "completed", "started_at": _at(0.5), "ended_at": _at(2.0),
             "duration_s": 1.5, "error_message": None, "error_code": None},
            {"id": run_bad, "conversation_id": conv, "session_id": "s" * 32, "exchange_id": ex2,
             "status": "failed", "started_at": _at(10.5), "ended_at": _at(12.0),
             "duration_s": 1.5, "error_message": "model exploded", "error_code": "server_error"},
        ],
        "messages": [
            {"id": 1, "event_uuid": "m1" * 16, **common, "run_id": run_ok, "exchange_id": ex1,
             "role": "user", "text": "Price of AAPL?", "created_at": _at(0.1)},
            {"id": 2, "event_uuid": "m2" * 16, **common, "run_id": run_ok, "exchange_id": ex1,
             "role": "assistant", "text": "AAPL is at 1 USD.", "created_at": _at(2.1)},
            {"id": 3, "event_uuid": "m3" * 16, **common, "run_id": run_bad, "exchange_id": ex2,
             "role": "user", "text": "And TSLA?", "created_at": _at(10.1)},
        ],
        "run_events": [
            {"id": i + 1, "event_uuid": f"{i:032x}", **common, "exchange_id": ex, "run_id": run,
             "seq": seq, "type": kind, "topic": topic, "state": state, "input": inp, "output": out,
             "tool_name": tool, "at": _at(t)}
            for i, (ex, run, seq, kind, topic, state, inp, out, tool, t) in enumerate(events)
        ],
        "tool_calls": [
            {"run_id": run_ok, "call_id": "call_v1", "conversation_id": conv,
             "name": "get_stock_price", "arguments": '{"symbol": "AAPL"}', "output": '{"price": 1}',
             "is_error": False, "requested_at": _at(0.8), "executed_at": _at(1.0),
             "submitted_at": _at(1.2)},
        ],
    }  # fmt: skip


def _bind(value: Any, dialect: str) -> Any:
    if isinstance(value, datetime) and dialect == "sqlite":
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def insert_v1_rows(connection: Connection) -> None:
    """Insert `v1_rows()` with plain SQL INSERTs into a database at revision 0001."""
    dialect = connection.dialect.name
    for table, rows in v1_rows().items():
        for row in rows:
            columns = ", ".join(row)
            values = ", ".join(f":{name}" for name in row)
            connection.execute(
                text(f"INSERT INTO {table} ({columns}) VALUES ({values})"),
                {k: _bind(v, dialect) for k, v in row.items()},
            )


def _quote(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def dump_sqlite(path: Path) -> str:
    """The database at `path` as a SQL script: schema first (FTS shadow tables left to the
    virtual table that makes them), then every row of the ordinary tables."""
    connection = sqlite3.connect(path)
    try:
        schema = connection.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
            "AND NOT (type = 'table' AND name LIKE 'messages_fts_%') ORDER BY rowid"
        ).fetchall()
        ddl = ("\n".join(line.rstrip() for line in sql.splitlines()) for (sql,) in schema)
        lines = ["BEGIN TRANSACTION;", *(f"{statement};" for statement in ddl)]
        for table in ("alembic_version", *V1_TABLES):
            for row in connection.execute(f"SELECT * FROM {table} ORDER BY rowid"):
                lines.append(f"INSERT INTO {table} VALUES({','.join(_quote(v) for v in row)});")
        lines.append("COMMIT;")
    finally:
        connection.close()
    return "\n".join(lines) + "\n"


def build_v1_sqlite(path: Path) -> None:
    """A sqlite file at revision 0001 holding `v1_rows()`."""
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade_schema(engine, "0001")
        with engine.begin() as connection:
            insert_v1_rows(connection)
    finally:
        engine.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "v1.db"
        build_v1_sqlite(path)
        FIXTURE.write_text(dump_sqlite(path))
    print(f"wrote {FIXTURE}")


if __name__ == "__main__":
    main()
