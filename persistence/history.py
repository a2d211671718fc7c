"""Read queries for the history page: paginated in SQL, returned as frozen dataclasses.

Every list function takes an open `Session`, validates its arguments (`HistoryQueryError` for a
limit outside 1..500, a negative offset, an unknown status, naive or reversed dates), and runs
two statements: the count of matching rows and one page (LIMIT/OFFSET over an indexed order).
Per-row counts are correlated subqueries, evaluated only for the rows of the page. Unknown ids
give an empty page, not an error (`run_timeline` is the exception: it raises
`RunNotFoundError`). All SQL is built with SQLAlchemy constructs and bound parameters.

Text search (`list_conversations(text=...)`) finds conversations with a message containing
every word of `text`, whole words, case-insensitive: FTS5 on sqlite, a GIN-indexed
``to_tsvector('simple', ...)`` on PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Executable,
    String,
    case,
    column,
    func,
    literal_column,
    select,
    table,
)
from sqlalchemy.orm import Session

from persistence.history_rows import (
    AssistantRow,
    ConversationRow,
    MessageRow,
    Page,
    RunEventRow,
    RunRow,
    check_page,
    check_range,
    check_status,
)
from persistence.models import Assistant, Conversation, Message, Run, RunEvent, ToolCallRow

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

_fts = table("messages_fts", column("rowid"), column("messages_fts"))


def fts_query(text: str) -> str:
    """An FTS5 query matching every word of `text` literally (no FTS operators)."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in text.split())


def _text_match(session: Session, text: str) -> ColumnElement[bool]:
    """Messages containing every word of `text`."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        matching = select(_fts.c.rowid).where(_fts.c.messages_fts.op("MATCH")(fts_query(text)))
        return Message.id.in_(matching)
    if dialect == "postgresql":
        # A literal constant, not a bound parameter, so the expression matches the index's.
        simple: ColumnElement[str] = literal_column("'simple'", String())
        vector = func.to_tsvector(simple, Message.text)
        return vector.op("@@")(func.plainto_tsquery(simple, text))
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Message.text.ilike(f"%{escaped}%", escape="\\")


def _conversation_filters(
    session: Session,
    *,
    assistant_id: str | None,
    status: str | None,
    since: datetime | None,
    until: datetime | None,
    text: str | None,
) -> list[ColumnElement[bool]]:
    check_status(status)
    check_range(since, until)
    filters: list[ColumnElement[bool]] = []
    if assistant_id is not None:
        filters.append(Conversation.assistant_id == assistant_id)
    if status is not None:
        filters.append(Conversation.id.in_(select(Run.conversation_id).where(Run.status == status)))
    if since is not None:
        filters.append(Conversation.updated_at >= since)
    if until is not None:
        filters.append(Conversation.created_at < until)
    if text is not None and text.strip():
        matching = select(Message.conversation_id).where(_text_match(session, text.strip()))
        filters.append(Conversation.id.in_(matching))
    return filters


def _page(session: Session, total_stmt: Executable, page_stmt: Executable) -> tuple[int, Any]:
    total = session.execute(total_stmt).scalar_one()
    return int(total), session.execute(page_stmt).all()


def count_conversations(
    session: Session,
    *,
    assistant_id: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    text: str | None = None,
) -> int:
    """How many conversations `list_conversations` would page through with these filters."""
    filters = _conversation_filters(
        session, assistant_id=assistant_id, status=status, since=since, until=until, text=text
    )
    return int(session.execute(select(func.count(Conversation.id)).where(*filters)).scalar_one())


def list_conversations(
    session: Session,
    *,
    assistant_id: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    text: str | None = None,
    order: ConversationOrder = "updated",
    limit: int = 50,
    offset: int = 0,
) -> Page[ConversationRow]:
    """Conversations, most recently updated (or created) first.

    Filters: `assistant_id`; `status`, conversations with at least one run in that state
    (``failed``...); `since`, active at or after it (updated_at >= since); `until`, begun
    before it (created_at < until), so together they keep conversations overlapping the range;
    `text`, a message contains every word.
    """
    check_page(limit, offset)
    if order not in ("updated", "created"):
        raise ValueError(f"order must be 'updated' or 'created', got {order!r}")
    filters = _conversation_filters(
        session, assistant_id=assistant_id, status=status, since=since, until=until, text=text
    )
    runs = select(func.count(Run.id)).where(Run.conversation_id == Conversation.id)
    messages = select(func.count(Message.id)).where(Message.conversation_id == Conversation.id)
    last_status = (
        select(Run.status)
        .where(Run.conversation_id == Conversation.id)
        .order_by(Run.started_at.desc(), Run.id.desc())
        .limit(1)
    )
    tokens = select(func.coalesce(func.sum(Run.total_tokens), 0)).where(
        Run.conversation_id == Conversation.id
    )
    # NULL as soon as one run that used tokens has no price: never a partial sum.
    unpriced = select(func.count(Run.id)).where(
        Run.conversation_id == Conversation.id, Run.total_tokens > 0, Run.cost_usd.is_(None)
    )
    cost = select(func.sum(Run.cost_usd)).where(Run.conversation_id == Conversation.id)
    priced_cost = case((unpriced.scalar_subquery() == 0, cost.scalar_subquery()), else_=None)
    key = Conversation.updated_at if order == "updated" else Conversation.created_at
    page_stmt = (
        select(
            Conversation.id,
            Conversation.session_id,
            Conversation.assistant_id,
            Conversation.backend,
            Conversation.title,
            Conversation.created_at,
            Conversation.updated_at,
            runs.scalar_subquery().label("run_count"),
            messages.scalar_subquery().label("message_count"),
            last_status.scalar_subquery().label("last_status"),
            tokens.scalar_subquery().label("total_tokens"),
            priced_cost.label("cost_usd"),
        )
        .where(*filters)
        .order_by(key.desc(), Conversation.id.desc())
        .limit(limit)
        .offset(offset)
    )
    total, rows = _page(session, select(func.count(Conversation.id)).where(*filters), page_stmt)
    items = tuple(ConversationRow(**row._asdict()) for row in rows)
    return Page(items, total, limit, offset)


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
