"""The initial schema: assistants, conversations, runs, messages, run events, tool calls.

Text search on messages is dialect-specific: an FTS5 table kept in step by triggers on sqlite,
a GIN index over ``to_tsvector('simple', text)`` on PostgreSQL.

Revision ID: 0001
Revises:
Create Date: 2026-11-20
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(128)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _utc(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE messages_fts USING fts5("
    "text, content='messages', content_rowid='id', tokenize='unicode61')",
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text); "
    "INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text); END",
)


def _create_core_tables() -> None:
    op.create_table(
        "assistants",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("tools", sa.JSON(), nullable=False),
        sa.Column("backend", sa.String(32), nullable=False),
        _utc("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_assistants"),
    )
    op.create_table(
        "conversations",
        sa.Column("id", ID, nullable=False),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("assistant_id", ID, nullable=True),
        sa.Column("backend", sa.String(32), nullable=True),
        _utc("created_at"),
        _utc("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
    )
    op.create_index("ix_conversations_session_id", "conversations", ["session_id"])
    op.create_index("ix_conversations_assistant_id", "conversations", ["assistant_id"])
    op.create_index(
        "ix_conversations_updated", "conversations", [sa.desc("updated_at"), sa.desc("id")]
    )
    op.create_index(
        "ix_conversations_created", "conversations", [sa.desc("created_at"), sa.desc("id")]
    )
    op.create_table(
        "runs",
        sa.Column("id", ID, nullable=False),
        sa.Column("conversation_id", ID, nullable=True),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("exchange_id", sa.String(32), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        _utc("started_at"),
        _utc("ended_at", nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=True),
        sa.Column("completion_tokens", sa.Integer(), nullable=True),
        sa.Column("total_tokens", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["conversations.id"], name="fk_runs_conversation_id_conversations"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_index("ix_runs_conversation_started", "runs", ["conversation_id", "started_at"])


def _create_message_tables() -> None:
    op.create_table(
        "messages",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("event_uuid", sa.String(32), nullable=False),
        sa.Column("conversation_id", ID, nullable=True),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("exchange_id", sa.String(32), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _utc("created_at"),
        sa.CheckConstraint("role IN ('user', 'assistant')", name="ck_messages_role"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_messages_conversation_id_conversations",
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_messages_run_id_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.UniqueConstraint("event_uuid", name="uq_messages_event_uuid"),
    )
    op.create_index("ix_messages_session_id", "messages", ["session_id"])
    op.create_index("ix_messages_exchange_id", "messages", ["exchange_id"])
    op.create_index(
        "ix_messages_conversation_created", "messages", ["conversation_id", "created_at", "id"]
    )
    op.create_table(
        "run_events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("event_uuid", sa.String(32), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("exchange_id", sa.String(32), nullable=True),
        sa.Column("conversation_id", ID, nullable=True),
        sa.Column("run_id", ID, nullable=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("topic", sa.String(40), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("previous_state", sa.String(32), nullable=True),
        sa.Column("trigger", sa.String(40), nullable=True),
        sa.Column("tool_name", sa.String(256), nullable=True),
        sa.Column("call_id", ID, nullable=True),
        sa.Column("input", sa.Text(), nullable=True),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("code", sa.String(64), nullable=True),
        sa.Column("is_error", sa.Boolean(), nullable=True),
        _utc("at"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_run_events_conversation_id_conversations",
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_run_events_run_id_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_run_events"),
        sa.UniqueConstraint("event_uuid", name="uq_run_events_event_uuid"),
    )
    op.create_index("ix_run_events_session_id", "run_events", ["session_id"])
    op.create_index("ix_run_events_exchange_id", "run_events", ["exchange_id"])
    op.create_index("ix_run_events_run_seq", "run_events", ["run_id", "seq"])
    op.create_index("ix_run_events_conversation_at", "run_events", ["conversation_id", "at"])


def _create_tool_calls() -> None:
    op.create_table(
        "tool_calls",
        sa.Column("run_id", ID, nullable=False),
        sa.Column("call_id", ID, nullable=False),
        sa.Column("conversation_id", ID, nullable=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("arguments", sa.Text(), nullable=False),
        sa.Column("output", sa.Text(), nullable=True),
        sa.Column("is_error", sa.Boolean(), nullable=True),
        sa.Column("error_type", sa.String(64), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        _utc("requested_at", nullable=True),
        _utc("executed_at", nullable=True),
        _utc("submitted_at", nullable=True),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_tool_calls_conversation_id_conversations",
        ),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name="fk_tool_calls_run_id_runs"),
        sa.PrimaryKeyConstraint("run_id", "call_id", name="pk_tool_calls"),
    )


def _create_text_search() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for statement in SQLITE_SEARCH:
            op.execute(statement)
    elif dialect == "postgresql":
        op.create_index(
            "ix_messages_text_search",
            "messages",
            [sa.text("to_tsvector('simple', text)")],
            postgresql_using="gin",
        )


def upgrade() -> None:
    _create_core_tables()
    _create_message_tables()
    _create_tool_calls()
    _create_text_search()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("messages_fts_update", "messages_fts_delete", "messages_fts_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS messages_fts")
    for table in ("tool_calls", "run_events", "messages", "runs", "conversations", "assistants"):
        op.drop_table(table)
