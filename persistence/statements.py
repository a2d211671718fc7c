"""The writer's statements, built once per dialect and run as executemany.

Every statement takes its values as bound parameters (``b_...`` names where a column is both
set and matched), so one statement serves a whole batch: the writer runs about a dozen
statements per batch, whatever its size. Inserts are ``ON CONFLICT DO NOTHING`` (events,
messages, conversations, runs: their keys make a repeated batch a no-op) or upserts (tool
calls, assistants); updates set values that do not depend on how often they run.

`driver_statements_for` compiles them once more for the engine's driver
(`persistence.driver_sql`): the writer runs them with plain tuples, without SQLAlchemy's work
per parameter. The inserts take exactly the columns named here (``*_COLUMNS``), in this order;
the rest take their parameters by name (``run_dicts``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Dialect, Float, String, bindparam, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from persistence.driver_sql import (
    CopyInsert,
    DriverStatement,
    Insert,
    ValuesInsert,
    compile_for_driver,
)
from persistence.models import (
    Assistant,
    Base,
    Conversation,
    Message,
    Run,
    RunEvent,
    ToolCallRow,
    UTCDateTime,
)

__all__ = [
    "ASSISTANT_COLUMNS",
    "CONVERSATION_COLUMNS",
    "EVENT_COLUMNS",
    "MESSAGE_COLUMNS",
    "RUN_COLUMNS",
    "TITLE_LENGTH",
    "TOOL_EXECUTED_COLUMNS",
    "TOOL_REQUESTED_COLUMNS",
    "TOOL_SUBMITTED_COLUMNS",
    "DriverStatements",
    "Statements",
    "driver_statements_for",
    "statements_for",
]

TITLE_LENGTH = 200

# The columns each insert sets, in the tables' order (the compiled statements keep it).
EVENT_COLUMNS: Final = (
    "event_uuid", "session_id", "exchange_id", "conversation_id", "run_id", "seq", "type",
    "topic", "state", "previous_state", "trigger", "tool_name", "call_id", "input", "output",
    "code", "is_error", "at", "model", "input_tokens", "cached_input_tokens", "output_tokens",
    "reasoning_tokens", "cost_usd",
)  # fmt: skip
MESSAGE_COLUMNS: Final = (
    "event_uuid", "conversation_id", "run_id", "session_id", "exchange_id", "role", "text",
    "created_at",
)  # fmt: skip
CONVERSATION_COLUMNS: Final = ("id", "session_id", "created_at", "updated_at")
ASSISTANT_COLUMNS: Final = ("id", "name", "model", "instructions", "tools", "backend", "created_at")
RUN_COLUMNS: Final = ("id", "conversation_id", "session_id", "exchange_id", "status", "started_at")
_CALL: Final = ("run_id", "call_id", "conversation_id", "name", "arguments")
TOOL_REQUESTED_COLUMNS: Final = (*_CALL, "requested_at")
TOOL_EXECUTED_COLUMNS: Final = (
    *_CALL, "output", "is_error", "error_type", "duration_s", "executed_at",
)  # fmt: skip
TOOL_SUBMITTED_COLUMNS: Final = (*_CALL, "output", "submitted_at")


def _insert(dialect: str, model: type[Base]) -> Any:
    """A dialect INSERT that supports ``ON CONFLICT`` (sqlite and PostgreSQL)."""
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"the recorder supports sqlite and PostgreSQL, not {dialect}")


def _upsert(dialect: str, model: type[Base], keys: list[str], changed: tuple[str, ...]) -> Any:
    stmt = _insert(dialect, model)
    return stmt.on_conflict_do_update(
        index_elements=keys, set_={name: stmt.excluded[name] for name in changed}
    )


def _ignore(dialect: str, model: type[Base], keys: list[str]) -> Any:
    return _insert(dialect, model).on_conflict_do_nothing(index_elements=keys)


@dataclass(frozen=True, slots=True)
class Statements:
    insert_events: Any
    insert_messages: Any
    insert_conversations: Any
    insert_runs: Any
    upsert_assistants: Any
    tool_requested: Any
    tool_executed: Any
    tool_submitted: Any
    touch_conversations: Any
    claim_sessions: Any
    note_conversations: Any
    set_titles: Any
    change_runs: Any
    sum_usage: Any
    backfill_conversation: tuple[Any, Any]
    """(run_events, messages): attach a session's rows to its conversation."""
    backfill_run: tuple[Any, Any]
    """(run_events, messages): attach an exchange's rows to its run."""


def _backfills() -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    by_session = tuple(
        update(model)
        .where(model.session_id == bindparam("b_session"), model.conversation_id.is_(None))
        .values(conversation_id=bindparam("b_conversation"))
        for model in (RunEvent, Message)
    )
    by_exchange = tuple(
        update(model)
        .where(model.exchange_id == bindparam("b_exchange"), model.run_id.is_(None))
        .values(run_id=bindparam("b_run"))
        for model in (RunEvent, Message)
    )
    return (by_session[0], by_session[1]), (by_exchange[0], by_exchange[1])


def _claim_sessions() -> Any:
    """A conversation made by a note (no events yet) gets its session from its first event."""
    return (
        update(Conversation)
        .where(Conversation.id == bindparam("b_id"), Conversation.session_id.is_(None))
        .values(session_id=bindparam("b_session"))
    )


def _conversation_updates() -> tuple[Any, Any, Any]:
    at = bindparam("b_at", type_=UTCDateTime())
    touch = (
        update(Conversation)
        .where(Conversation.id == bindparam("b_id"), Conversation.updated_at < at)
        .values(updated_at=at)
    )
    assistant = bindparam("b_assistant", type_=String())
    backend = bindparam("b_backend", type_=String())
    note = (
        update(Conversation)
        .where(Conversation.id == bindparam("b_id"))
        .values(
            assistant_id=func.coalesce(assistant, Conversation.assistant_id),
            backend=func.coalesce(backend, Conversation.backend),
        )
    )
    first_user_text = (
        select(func.substr(Message.text, 1, TITLE_LENGTH))
        .where(Message.conversation_id == Conversation.id, Message.role == "user")
        .order_by(Message.created_at, Message.id)
        .limit(1)
        .scalar_subquery()
    )
    titles = (
        update(Conversation)
        .where(Conversation.id == bindparam("b_id"), Conversation.title.is_(None))
        .values(title=first_user_text)
    )
    return touch, note, titles


def _run_changes() -> Any:
    """Latest status; end time, duration and error only when the batch has them (else kept)."""
    return (
        update(Run)
        .where(Run.id == bindparam("b_id"))
        .values(
            status=bindparam("b_status", type_=String()),
            ended_at=func.coalesce(bindparam("b_ended", type_=UTCDateTime()), Run.ended_at),
            duration_s=func.coalesce(bindparam("b_duration", type_=Float()), Run.duration_s),
            error_message=func.coalesce(bindparam("b_error", type_=String()), Run.error_message),
            error_code=func.coalesce(bindparam("b_code", type_=String()), Run.error_code),
        )
    )


def _sum_usage() -> Any:
    """A run's usage columns from its usage reports (sums, so repeating it changes nothing).
    The cost is NULL when any report has no price: a partial sum would understate it."""
    reports = RunEvent.run_id == Run.id, RunEvent.input_tokens.is_not(None)

    def total(column: Any) -> Any:
        return select(func.sum(column)).where(*reports).scalar_subquery()

    unpriced = select(func.count()).where(*reports, RunEvent.cost_usd.is_(None)).scalar_subquery()
    latest_model = (
        select(RunEvent.model)
        .where(*reports, RunEvent.model.is_not(None))
        .order_by(RunEvent.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    return (
        update(Run)
        .where(Run.id == bindparam("b_id"))
        .values(
            prompt_tokens=total(RunEvent.input_tokens),
            cached_input_tokens=total(RunEvent.cached_input_tokens),
            completion_tokens=total(RunEvent.output_tokens),
            reasoning_tokens=total(RunEvent.reasoning_tokens),
            total_tokens=total(RunEvent.input_tokens + RunEvent.output_tokens),
            cost_usd=case((unpriced == 0, total(RunEvent.cost_usd)), else_=None),
            model=func.coalesce(latest_model, Run.model),
        )
    )


@functools.cache
def statements_for(dialect: str) -> Statements:
    """The statements for `dialect` (``sqlite`` or ``postgresql``), built once."""
    call_key = ["run_id", "call_id"]
    touch, note, titles = _conversation_updates()
    by_session, by_exchange = _backfills()
    return Statements(
        insert_events=_ignore(dialect, RunEvent, ["event_uuid"]),
        insert_messages=_ignore(dialect, Message, ["event_uuid"]),
        insert_conversations=_ignore(dialect, Conversation, ["id"]),
        insert_runs=_ignore(dialect, Run, ["id"]),
        upsert_assistants=_upsert(
            dialect, Assistant, ["id"], ("name", "model", "instructions", "tools", "backend")
        ),
        tool_requested=_ignore(dialect, ToolCallRow, call_key),
        tool_executed=_upsert(
            dialect,
            ToolCallRow,
            call_key,
            ("output", "is_error", "error_type", "duration_s", "executed_at"),
        ),
        tool_submitted=_upsert(dialect, ToolCallRow, call_key, ("submitted_at",)),
        touch_conversations=touch,
        claim_sessions=_claim_sessions(),
        note_conversations=note,
        set_titles=titles,
        change_runs=_run_changes(),
        sum_usage=_sum_usage(),
        backfill_conversation=by_session,
        backfill_run=by_exchange,
    )


@dataclass(frozen=True, slots=True)
class DriverStatements:
    """The writer's statements compiled for one driver."""

    insert_events: Insert
    insert_messages: Insert
    insert_conversations: Insert
    insert_runs: Insert
    tool_requested: Insert
    tool_executed: Insert
    tool_submitted: Insert
    touch_conversations: DriverStatement
    claim_sessions: DriverStatement
    note_conversations: DriverStatement
    set_titles: DriverStatement
    change_runs: DriverStatement
    sum_usage: DriverStatement
    backfill_conversation: tuple[DriverStatement, DriverStatement]
    backfill_run: tuple[DriverStatement, DriverStatement]
    upsert_assistants: DriverStatement
    run_started_at: DriverStatement
    """A run's start time (one parameter: its id), for a run started before this writer."""


_compiled: dict[type[Dialect], DriverStatements] = {}


def _driver_statements(dialect_type: type[Dialect]) -> DriverStatements:
    dialect = dialect_type()
    sql = statements_for(dialect.name)

    def each(statement: Any, columns: tuple[str, ...] | None = None) -> DriverStatement:
        return compile_for_driver(statement, dialect, columns)

    def insert(statement: Any, columns: tuple[str, ...]) -> Insert:
        """Multi-row on sqlite; else one row per step (psycopg pipelines them)."""
        compiled = each(statement, columns)
        return ValuesInsert.build(compiled) if dialect.name == "sqlite" else compiled

    def many(statement: Any, columns: tuple[str, ...], table: str) -> Insert:
        """An insert of up to a row per event: through COPY where the driver can."""
        if dialect.name == "postgresql" and dialect.driver == "psycopg":
            compiled = each(statement, columns)
            return CopyInsert.build(dialect, table, "event_uuid", like=compiled)
        return insert(statement, columns)

    return DriverStatements(
        insert_events=many(sql.insert_events, EVENT_COLUMNS, "run_events"),
        insert_messages=many(sql.insert_messages, MESSAGE_COLUMNS, "messages"),
        insert_conversations=insert(sql.insert_conversations, CONVERSATION_COLUMNS),
        insert_runs=insert(sql.insert_runs, RUN_COLUMNS),
        tool_requested=insert(sql.tool_requested, TOOL_REQUESTED_COLUMNS),
        tool_executed=insert(sql.tool_executed, TOOL_EXECUTED_COLUMNS),
        tool_submitted=insert(sql.tool_submitted, TOOL_SUBMITTED_COLUMNS),
        touch_conversations=each(sql.touch_conversations),
        claim_sessions=each(sql.claim_sessions),
        note_conversations=each(sql.note_conversations),
        set_titles=each(sql.set_titles),
        change_runs=each(sql.change_runs),
        sum_usage=each(sql.sum_usage),
        backfill_conversation=(
            each(sql.backfill_conversation[0]),
            each(sql.backfill_conversation[1]),
        ),
        backfill_run=(each(sql.backfill_run[0]), each(sql.backfill_run[1])),
        upsert_assistants=each(sql.upsert_assistants, ASSISTANT_COLUMNS),
        run_started_at=each(select(Run.started_at).where(Run.id == bindparam("b_id"))),
    )


def driver_statements_for(dialect: Dialect) -> DriverStatements:
    """The writer's statements compiled for `dialect`'s driver, once per kind of dialect."""
    compiled = _compiled.get(type(dialect))
    if compiled is None:  # two threads may both compile: the same result, either is kept
        compiled = _compiled[type(dialect)] = _driver_statements(type(dialect))
    return compiled
