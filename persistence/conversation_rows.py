"""The rows of one page of conversations, with their counts and usage sums.

Given the page's ids (found by `persistence.history.list_conversations`), one statement reads
the conversations with their runs' totals (count, tokens, cost, runs without a price) grouped
once over the page's runs, their message counts grouped likewise, and their latest run's
status: the work grows with the page, not with the history, and the rows skipped by an
offset are never summed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from sqlalchemy import BindParameter, Select, bindparam, case, func, select
from sqlalchemy.orm import Session

from persistence.history_rows import ConversationRow
from persistence.models import Conversation, Message, Run

__all__ = ["conversation_rows"]


def _rows_statement() -> Select[Any]:
    ids: BindParameter[list[str]] = bindparam("ids", expanding=True)
    unpriced = (Run.total_tokens > 0) & Run.cost_usd.is_(None)
    runs = (
        select(
            Run.conversation_id,
            func.count(Run.id).label("run_count"),
            func.sum(Run.total_tokens).label("total_tokens"),
            func.sum(Run.cost_usd).label("cost_usd"),
            func.sum(case((unpriced, 1), else_=0)).label("unpriced"),
        )
        .where(Run.conversation_id.in_(ids))
        .group_by(Run.conversation_id)
        .subquery()
    )
    messages = (
        select(Message.conversation_id, func.count(Message.id).label("message_count"))
        .where(Message.conversation_id.in_(ids))
        .group_by(Message.conversation_id)
        .subquery()
    )
    last_status = (
        select(Run.status)
        .where(Run.conversation_id == Conversation.id)
        .order_by(Run.started_at.desc(), Run.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        select(
            Conversation.id,
            Conversation.session_id,
            Conversation.assistant_id,
            Conversation.backend,
            Conversation.title,
            Conversation.created_at,
            Conversation.updated_at,
            func.coalesce(runs.c.run_count, 0).label("run_count"),
            func.coalesce(messages.c.message_count, 0).label("message_count"),
            last_status.label("last_status"),
            func.coalesce(runs.c.total_tokens, 0).label("total_tokens"),
            # NULL as soon as one run that used tokens has no price: never a partial sum.
            case((func.coalesce(runs.c.unpriced, 0) == 0, runs.c.cost_usd), else_=None).label(
                "cost_usd"
            ),
        )
        .outerjoin(runs, runs.c.conversation_id == Conversation.id)
        .outerjoin(messages, messages.c.conversation_id == Conversation.id)
        .where(Conversation.id.in_(ids))
    )


# Built once: making this statement costs more than running it for a page of fifty.
_ROWS: Final = _rows_statement()


def conversation_rows(session: Session, ids: Sequence[str]) -> tuple[ConversationRow, ...]:
    """The rows of conversations `ids`, in that order (unknown ids are left out)."""
    if not ids:
        return ()
    rows = session.execute(_ROWS, {"ids": list(ids)})
    by_id = {row.id: ConversationRow(*row) for row in rows}  # columns in field order
    return tuple(by_id[i] for i in ids if i in by_id)
