"""Conversation titles, and an index for filtering runs by status.

``conversations.title`` is the start of the conversation's first user message, for the
history page's list; existing conversations get theirs from the messages already stored.
``ix_runs_status_started`` serves the history's status filter (conversations with a failed
run, the latest failures) without scanning every run.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TITLE_LENGTH = 200

_conversations = sa.table("conversations", sa.column("id"), sa.column("title"))
_messages = sa.table(
    "messages",
    sa.column("id"),
    sa.column("conversation_id"),
    sa.column("role"),
    sa.column("text"),
    sa.column("created_at"),
)


def _first_user_message_start() -> sa.ScalarSelect[str]:
    return (
        sa.select(sa.func.substr(_messages.c.text, 1, TITLE_LENGTH))
        .where(
            _messages.c.conversation_id == _conversations.c.id,
            _messages.c.role == "user",
        )
        .order_by(_messages.c.created_at, _messages.c.id)
        .limit(1)
        .scalar_subquery()
    )


def upgrade() -> None:
    op.add_column("conversations", sa.Column("title", sa.String(TITLE_LENGTH), nullable=True))
    op.execute(
        _conversations.update()
        .where(_conversations.c.title.is_(None))
        .values(title=_first_user_message_start())
    )
    op.create_index("ix_runs_status_started", "runs", ["status", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_runs_status_started", table_name="runs")
    op.drop_column("conversations", "title")
