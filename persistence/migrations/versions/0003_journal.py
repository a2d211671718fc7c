"""The exchange journal: the facts needed to finish an exchange after the process died.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ID = sa.String(128)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "journal",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("exchange_id", sa.String(64), nullable=False),
        sa.Column("conversation_id", ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("call_id", ID, nullable=True),
        sa.Column("name", sa.String(256), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("detail", sa.String(128), nullable=True),
        sa.Column("is_error", sa.Boolean(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_journal"),
    )
    op.create_index("ix_journal_exchange_id", "journal", ["exchange_id"])
    op.create_index("ix_journal_conversation_id", "journal", ["conversation_id"])


def downgrade() -> None:
    op.drop_index("ix_journal_conversation_id", table_name="journal")
    op.drop_index("ix_journal_exchange_id", table_name="journal")
    op.drop_table("journal")
