"""Read queries for the history page: paginated in SQL, returned as frozen dataclasses.

Every list function takes an open `Session`, validates its arguments (`HistoryQueryError` for a
limit outside 1..500, a negative offset, an unknown status, naive or reversed dates), counts
the matching rows and reads one page (LIMIT/OFFSET over an indexed order). Per-row counts and
sums are computed for the rows of the page only. Unknown ids give an empty page, not an error
(`run_timeline` is the exception: it raises `RunNotFoundError`). All SQL is built with
SQLAlchemy constructs and bound parameters.

Conversations are filtered by a `ConversationFilter` (`persistence.conversation_filter`;
the public functions also take its fields as keyword arguments) and listed in two steps: the
page's ids with the count of all matches beside them in one statement (the filters and the
order, over indexes; a status or text filter matching many conversations is walked in order,
see `persistence.conversation_walk`), then the page's rows with their counts and usage sums
(`persistence.conversation_rows`).

Text search (``ConversationFilter(text=...)``) finds conversations with a message containing
every word of `text`, whole words, case-insensitive: FTS5 on sqlite, a GIN-indexed
``to_tsvector('simple', ...)`` on PostgreSQL (`persistence.conversation_search`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import ColumnElement, Executable, Select, func, select
from sqlalchemy.orm import Session

from persistence.conversation_filter import ConversationFilter, FilterFields, filter_of
from persistence.conversation_rows import conversation_rows
from persistence.conversation_search import (
    matching_among,
    matching_conversations,
    message_match,
)
from persistence.conversation_walk import SET_LIMIT, Plan, walk
from persistence.history_rows import (
    AssistantRow,
    ConversationRow,
    MessageRow,
    Page,
    RunEventRow,
    RunRow,
    check_page,
    check_status,
)
from persistence.models import Assistant, Conversation, Message, Run, RunEvent, ToolCallRow

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "count_conversations",
    "count_runs",
    "list_assistants",
    "list_conversations",
    "list_messages",
    "list_run_events",
    "list_runs",
]

ConversationOrder = Literal["updated", "created"]


def filter_conditions(session: Session, where: ConversationFilter) -> list[ColumnElement[bool]]:
    """The filter as SQL conditions on `Conversation` alone (semi-joins over every run and
    message): for aggregates over the whole matching set (`persistence.usage_history`)."""
    conditions = _column_conditions(where)
    if where.status is not None:
        with_status = select(Run.conversation_id).where(Run.status == where.status)
        conditions.append(Conversation.id.in_(with_status))
    if where.text is not None:
        matching = select(Message.conversation_id).where(message_match(session, where.text))
        conditions.append(Conversation.id.in_(matching))
    return conditions


def _column_conditions(where: ConversationFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if where.assistant_id is not None:
        conditions.append(Conversation.assistant_id == where.assistant_id)
    if where.since is not None:
        conditions.append(Conversation.updated_at >= where.since)
    if where.until is not None:
        conditions.append(Conversation.created_at < where.until)
    return conditions


def _status_set(session: Session, status: str, limit: int) -> tuple[list[str], bool]:
    """Up to `limit` conversations with a run in `status` (read from the runs' index on
    (status, conversation_id)), and whether that is all of them."""
    ids = [
        conversation_id
        for conversation_id in session.execute(
            select(Run.conversation_id)
            .where(Run.status == status, Run.conversation_id.is_not(None))
            .distinct()
            .limit(limit + 1)
        ).scalars()
        if conversation_id is not None
    ]
    return ids[:limit], len(ids) <= limit


def _plan(session: Session, where: ConversationFilter) -> Plan:
    """The filter as a `Plan`: a small set (status, text) becomes ``id IN (...)``; a large
    status set a probe per listed row, a large text set a check walked chunk by chunk
    (`persistence.conversation_walk`)."""
    plan = Plan(conditions=_column_conditions(where))
    plan.narrowed = bool(plan.conditions)
    if where.status is not None:
        ids, complete = _status_set(session, where.status, SET_LIMIT)
        if complete:
            plan.conditions.append(Conversation.id.in_(ids))
            plan.narrowed, plan.empty = True, not ids
        else:
            with_status = select(Run.conversation_id).where(Run.status == where.status)
            plan.listing.append(with_status.where(Run.conversation_id == Conversation.id).exists())
            plan.counting.append(Conversation.id.in_(with_status))
            plan.narrowed = True
            if not plan.conditions:  # counted on the runs' index alone
                plan.count = select(func.count(func.distinct(Run.conversation_id))).where(
                    Run.status == where.status
                )
    if where.text is not None:
        ids, complete = matching_conversations(session, where.text, SET_LIMIT)
        plan.count = None  # the status-only count no longer applies
        if complete:
            plan.conditions.append(Conversation.id.in_(ids))
            plan.narrowed, plan.empty = True, plan.empty or not ids
        else:
            plan.checks.append(partial(matching_among, session, where.text))
    return plan


def _count_statement(plan: Plan) -> Select[int] | None:
    """The statement counting the plan's conversations exactly; None when a large set must
    be walked instead. Uncorrelated: it can be a column of a statement over conversations."""
    if plan.count is not None:
        return plan.count.correlate(None)
    if plan.checks:
        return None
    # count(*), not count(id): the same number (id is the key), without a NULL test per row.
    counting = select(func.count()).select_from(Conversation)
    return counting.where(*plan.conditions, *plan.counting).correlate(None)


def _count(session: Session, plan: Plan, order: Sequence[Any]) -> tuple[int, bool]:
    """(the number of matching conversations, whether exact). When a large set is walked,
    it is exact up to `SET_LIMIT`; past it, the lower bound ``SET_LIMIT + 1``."""
    if plan.empty:
        return 0, True
    statement = _count_statement(plan)
    if statement is not None:
        return int(session.execute(statement).scalar_one()), True
    if not plan.narrowed:  # a single large set: more than SET_LIMIT, known without a walk
        return SET_LIMIT + 1, False
    found, _ = walk(session, plan, order, SET_LIMIT + 1)
    return len(found), len(found) <= SET_LIMIT


def _order(order: ConversationOrder) -> tuple[Any, Any]:
    if order not in ("updated", "created"):
        raise ValueError(f"order must be 'updated' or 'created', got {order!r}")
    key = Conversation.updated_at if order == "updated" else Conversation.created_at
    return key.desc(), Conversation.id.desc()


def count_conversations(
    session: Session, where: ConversationFilter | None = None, **fields: Unpack[FilterFields]
) -> int:
    """How many conversations `list_conversations` would page through with this filter
    (its `Page.total` on the first page: past `SET_LIMIT` matches of a text search, the
    lower bound ``SET_LIMIT + 1``)."""
    return _count(session, _plan(session, filter_of(where, fields)), _order("updated"))[0]


def list_conversations(
    session: Session,
    where: ConversationFilter | None = None,
    *,
    order: ConversationOrder = "updated",
    limit: int = 50,
    offset: int = 0,
    **fields: Unpack[FilterFields],
) -> Page[ConversationRow]:
    """Conversations matching `where` (a `ConversationFilter`, or its fields as keyword
    arguments: ``status="failed"``...), most recently updated (or created) first.

    `Page.total` is exact, except when a text search matches more than `SET_LIMIT` (1,000)
    conversations: then `Page.exact` is false and `total` is a lower bound (at least that
    many match: ``SET_LIMIT + 1``, or more on later pages).
    """
    check_page(limit, offset)
    keys = _order(order)
    plan = _plan(session, filter_of(where, fields))
    if plan.empty:
        return Page((), 0, limit, offset)
    counting = _count_statement(plan)
    if counting is None:
        total, exact = _count(session, plan, keys)
        # One past the page: whether there is more, when the count is only a lower bound.
        found, _ = walk(session, plan, keys, offset + limit + 1)
        ids = found[offset : offset + limit]
        if not exact:
            total = max(total, len(found))
    else:
        # The page's ids with the count beside them: one statement (the count, uncorrelated,
        # is computed once); a page past the end has no row to carry it.
        exact = True
        listed = session.execute(
            select(Conversation.id, counting.scalar_subquery())
            .where(*plan.conditions, *plan.listing)
            .order_by(*keys)
            .limit(limit)
            .offset(offset)
        ).all()
        ids = [conversation_id for conversation_id, _ in listed]
        total = int(listed[0][1]) if listed else int(session.execute(counting).scalar_one())
    return Page(conversation_rows(session, ids), total, limit, offset, exact)


def _page(session: Session, total_stmt: Executable, page_stmt: Executable) -> tuple[int, Any]:
    total = session.execute(total_stmt).scalar_one()
    return int(total), session.execute(page_stmt).all()


def count_runs(session: Session, conversation_id: str, *, status: str | None = None) -> int:
    """How many runs the conversation has (in `status`, if given)."""
    check_status(status)
    filters = [Run.conversation_id == conversation_id]
    if status is not None:
        filters.append(Run.status == status)
    return int(session.execute(select(func.count(Run.id)).where(*filters)).scalar_one())


def list_runs(
    session: Session,
    conversation_id: str,
    *,
    status: str | None = None,
    newest_first: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> Page[RunRow]:
    """The conversation's runs in start order (or newest first), with event and tool counts."""
    check_page(limit, offset)
    check_status(status)
    filters = [Run.conversation_id == conversation_id]
    if status is not None:
        filters.append(Run.status == status)
    events = select(func.count(RunEvent.id)).where(RunEvent.run_id == Run.id)
    tools = select(func.count(ToolCallRow.call_id)).where(ToolCallRow.run_id == Run.id)
    order = (Run.started_at.desc(), Run.id.desc()) if newest_first else (Run.started_at, Run.id)
    page_stmt = (
        select(
            Run.id,
            Run.conversation_id,
            Run.status,
            Run.started_at,
            Run.ended_at,
            Run.duration_s,
            Run.error_message,
            Run.error_code,
            Run.prompt_tokens,
            Run.completion_tokens,
            Run.total_tokens,
            events.scalar_subquery().label("event_count"),
            tools.scalar_subquery().label("tool_call_count"),
            Run.model,
            Run.cached_input_tokens,
            Run.reasoning_tokens,
            Run.cost_usd,
        )
        .where(*filters)
        .order_by(*order)
        .limit(limit)
        .offset(offset)
    )
    total, rows = _page(session, select(func.count(Run.id)).where(*filters), page_stmt)
    return Page(tuple(RunRow(**row._asdict()) for row in rows), total, limit, offset)


def list_run_events(
    session: Session, run_id: str, *, limit: int = 100, offset: int = 0
) -> Page[RunEventRow]:
    """The run's events in order (`seq`), the user's message and ``ready`` first."""
    check_page(limit, offset)
    page_stmt = (
        select(
            RunEvent.seq,
            RunEvent.type,
            RunEvent.topic,
            RunEvent.state,
            RunEvent.previous_state,
            RunEvent.trigger,
            RunEvent.tool_name,
            RunEvent.call_id,
            RunEvent.input,
            RunEvent.output,
            RunEvent.code,
            RunEvent.is_error,
            RunEvent.at,
            RunEvent.run_id,
            RunEvent.conversation_id,
        )
        .where(RunEvent.run_id == run_id)
        .order_by(RunEvent.seq, RunEvent.id)
        .limit(limit)
        .offset(offset)
    )
    total_stmt = select(func.count(RunEvent.id)).where(RunEvent.run_id == run_id)
    total, rows = _page(session, total_stmt, page_stmt)
    return Page(tuple(RunEventRow(**row._asdict()) for row in rows), total, limit, offset)


def list_messages(
    session: Session, conversation_id: str, *, limit: int = 50, offset: int = 0
) -> Page[MessageRow]:
    """The conversation's messages (user and assistant) in the order they were recorded."""
    check_page(limit, offset)
    page_stmt = (
        select(
            Message.id,
            Message.conversation_id,
            Message.run_id,
            Message.role,
            Message.text,
            Message.created_at,
        )
        .where(Message.conversation_id == conversation_id)
        .order_by(Message.created_at, Message.id)
        .limit(limit)
        .offset(offset)
    )
    total_stmt = select(func.count(Message.id)).where(Message.conversation_id == conversation_id)
    total, rows = _page(session, total_stmt, page_stmt)
    return Page(tuple(MessageRow(**row._asdict()) for row in rows), total, limit, offset)


def list_assistants(session: Session) -> tuple[AssistantRow, ...]:
    """Assistants defined locally or used by a recorded conversation, by name then id."""
    used: dict[str, int] = {
        assistant_id: count
        for assistant_id, count in session.execute(
            select(Conversation.assistant_id, func.count(Conversation.id))
            .where(Conversation.assistant_id.is_not(None))
            .group_by(Conversation.assistant_id)
        )
        if assistant_id is not None
    }
    rows = {
        a.id: AssistantRow(a.id, a.name, a.model, a.backend, a.created_at, used.get(a.id, 0))
        for a in session.execute(
            select(
                Assistant.id, Assistant.name, Assistant.model, Assistant.backend,
                Assistant.created_at,
            )
        )
    }  # fmt: skip
    for assistant_id, count in used.items():
        if assistant_id not in rows:
            rows[assistant_id] = AssistantRow(assistant_id, None, None, None, None, count)
    return tuple(sorted(rows.values(), key=lambda r: (r.name is None, r.name or "", r.id)))
