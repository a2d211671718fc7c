"""Cheaper event inserts: the attach indexes hold only rows still waiting to be attached.

``session_id`` and ``exchange_id`` on ``run_events`` and ``messages`` are looked up by one
thing only: the writer attaching rows stored before their conversation or run id was known
(``WHERE session_id = ? AND conversation_id IS NULL``, and the same for runs). Most rows
arrive with both ids and are never looked up that way, yet every insert paid for two more
index entries. The indexes become partial, holding just the rows the writer may attach
later: a row leaves them when it is attached.

``runs.exchange_id`` gets an index: the chat page's transcript finds an exchange's run by it,
which was a scan of every run.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TABLES = ("run_events", "messages")
# (column, the id whose absence means "waiting to be attached")
_ATTACH = (("session_id", "conversation_id"), ("exchange_id", "run_id"))


def upgrade() -> None:
    for table in _TABLES:
        for column, missing in _ATTACH:
            name = f"ix_{table}_{column}"
            op.drop_index(name, table_name=table)
            waiting = sa.text(f"{missing} IS NULL")
            op.create_index(name, table, [column], sqlite_where=waiting, postgresql_where=waiting)
    op.create_index("ix_runs_exchange_id", "runs", ["exchange_id"])


def downgrade() -> None:
    op.drop_index("ix_runs_exchange_id", table_name="runs")
    for table in _TABLES:
        for column, _missing in _ATTACH:
            name = f"ix_{table}_{column}"
            op.drop_index(name, table_name=table)
            op.create_index(name, table, [column])
