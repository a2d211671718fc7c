"""An index for the history's status filter: runs by (status, conversation).

``ix_runs_status_conversation`` answers "which conversations have a run in this state" from
the index alone (the history page's status filter reads those ids, or checks a chunk of
conversations against them), where ``ix_runs_status_started`` needed a row lookup per run.
Text search needs nothing new: the FTS5 table (sqlite) and the GIN index (PostgreSQL) of
revision 0001 serve it. Creating the index fills it for the rows already there.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_runs_status_conversation", "runs", ["status", "conversation_id"])


def downgrade() -> None:
    op.drop_index("ix_runs_status_conversation", table_name="runs")
