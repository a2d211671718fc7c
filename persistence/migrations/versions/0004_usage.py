"""Token usage and cost: per usage report (run_events) and per run (runs).

Each `UsageReported` event row keeps the tokens and cost of one report; a run's columns are
the sums of its reports (``prompt_tokens`` is the input and ``completion_tokens`` the output,
as the columns were first named). ``cost_usd`` is NULL when no price is known.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_EVENT_COLUMNS = (
    ("model", sa.String(128)),
    ("input_tokens", sa.Integer()),
    ("cached_input_tokens", sa.Integer()),
    ("output_tokens", sa.Integer()),
    ("reasoning_tokens", sa.Integer()),
    ("cost_usd", sa.Float()),
)
_RUN_COLUMNS = (
    ("model", sa.String(128)),
    ("cached_input_tokens", sa.Integer()),
    ("reasoning_tokens", sa.Integer()),
    ("cost_usd", sa.Float()),
)


def upgrade() -> None:
    with op.batch_alter_table("run_events") as table:
        for name, type_ in _EVENT_COLUMNS:
            table.add_column(sa.Column(name, type_, nullable=True))
    with op.batch_alter_table("runs") as table:
        for name, type_ in _RUN_COLUMNS:
            table.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as table:
        for name, _ in reversed(_RUN_COLUMNS):
            table.drop_column(name)
    with op.batch_alter_table("run_events") as table:
        for name, _ in reversed(_EVENT_COLUMNS):
            table.drop_column(name)
