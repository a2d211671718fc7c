"""The tables, as SQLAlchemy 2.0 typed models, at the schema's head revision.

The Alembic revisions in `persistence.migrations` create exactly this schema (a test compares
them); change both together. The models describe the tables for the writer and the history
queries; nobody creates tables from them (``python db_setup.py`` does, through Alembic).

Identity and idempotency:

- conversations and runs are keyed by their remote ids; tool calls by (run, call id);
- every recorded event has an ``event_uuid`` (its time, then random bits) given by the
  recorder, unique in ``run_events`` and ``messages``: writing a batch twice (a retry after a
  commit whose acknowledgement was lost) inserts nothing new;
- ``session_id`` is the mediator's local id and ``exchange_id`` the recorder's id for one
  exchange (a user message and the run it starts); both exist before the remote ids do.

Times are stored as UTC and read back timezone-aware (`UTCDateTime`), on sqlite too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Assistant",
    "Base",
    "Conversation",
    "Message",
    "Run",
    "RunEvent",
    "ToolCallRow",
    "UTCDateTime",
]

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ID = String(128)
"""Remote ids (``thread_...``, ``run_...``, ``call_...``) and local hex ids."""

BigId = BigInteger().with_variant(Integer(), "sqlite")
"""An autoincrementing key: BIGINT on PostgreSQL, the rowid on sqlite."""


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every database.

    PostgreSQL stores ``timestamptz``; sqlite stores the UTC wall time as text, which sorts
    correctly. Naive datetimes are refused on the way in; values come back in UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: give a timezone-aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # aggregates over sqlite text columns
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class Assistant(Base):
    """A local assistant definition (what a Responses backend will need to recreate it)."""

    __tablename__ = "assistants"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    model: Mapped[str] = mapped_column(String(128))
    instructions: Mapped[str] = mapped_column(Text, default="")
    tools: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    backend: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]


class Conversation(Base):
    """One remote thread (conversation); `session_id` is the mediator that created it."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    session_id: Mapped[str | None] = mapped_column(String(64), index=True)
    assistant_id: Mapped[str | None] = mapped_column(ID, index=True)
    backend: Mapped[str | None] = mapped_column(String(32))
    title: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


Index("ix_conversations_updated", Conversation.updated_at.desc(), Conversation.id.desc())
Index("ix_conversations_created", Conversation.created_at.desc(), Conversation.id.desc())


class Run(Base):
    """One run (exchange); `status` is the mediator's latest state for it."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"))
    session_id: Mapped[str | None] = mapped_column(String(64))
    exchange_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    duration_s: Mapped[float | None] = mapped_column(Float)
    # Token usage, the sums of the run's usage reports (`RunEvent`): input, output, total.
    prompt_tokens: Mapped[int | None] = mapped_column(Integer)
    completion_tokens: Mapped[int | None] = mapped_column(Integer)
    total_tokens: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(128))
    cached_input_tokens: Mapped[int | None] = mapped_column(Integer)
    reasoning_tokens: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    """US dollars; NULL when no price is known for a report of the run (or none came)."""


Index("ix_runs_conversation_started", Run.conversation_id, Run.started_at)
Index("ix_runs_status_started", Run.status, Run.started_at)
# The history's status filter: which conversations have a run in a state, from the index alone.
Index("ix_runs_status_conversation", Run.status, Run.conversation_id)
# The transcript finds an exchange's run.
Index("ix_runs_exchange_id", Run.exchange_id)


def _waiting_to_attach(column: Any, missing: Any) -> Index:
    """An index of `column` over the rows whose `missing` id is not known yet: what the writer
    looks up to attach rows stored before their conversation or run (revision 0006)."""
    where = missing.is_(None)
    return Index(
        f"ix_{column.table.name}_{column.name}",
        column,
        sqlite_where=where,
        postgresql_where=where,
    )


class Message(Base):
    """A user message (from `MessageSent`) or an assistant reply (from `MessageRetrieved`)."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_uuid: Mapped[str] = mapped_column(String(32), unique=True)
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"))
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"))
    session_id: Mapped[str | None] = mapped_column(String(64))
    exchange_id: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]

    __table_args__ = (CheckConstraint("role IN ('user', 'assistant')", name="role"),)


Index("ix_messages_conversation_created", Message.conversation_id, Message.created_at, Message.id)
_waiting_to_attach(Message.session_id, Message.conversation_id)
_waiting_to_attach(Message.exchange_id, Message.run_id)


class RunEvent(Base):
    """One published event (the seed's ``run_details``), in order within its exchange.

    `seq` is the event's position in its exchange: the user's message and the ``ready`` state
    come first (seq 0 and 1), and are attached to the run that follows once it exists.
    """

    __tablename__ = "run_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_uuid: Mapped[str] = mapped_column(String(32), unique=True)
    session_id: Mapped[str | None] = mapped_column(String(64))
    exchange_id: Mapped[str | None] = mapped_column(String(32))
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"))
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    topic: Mapped[str] = mapped_column(String(40))
    state: Mapped[str] = mapped_column(String(32))
    previous_state: Mapped[str | None] = mapped_column(String(32))
    trigger: Mapped[str | None] = mapped_column(String(40))
    tool_name: Mapped[str | None] = mapped_column(String(256))
    call_id: Mapped[str | None] = mapped_column(ID)
    input: Mapped[str | None] = mapped_column(Text)
    output: Mapped[str | None] = mapped_column(Text)
    code: Mapped[str | None] = mapped_column(String(64))
    is_error: Mapped[bool | None] = mapped_column(Boolean)
    at: Mapped[datetime]
    # A usage report (`UsageReported`) only: the model, its tokens and their cost.
    model: Mapped[str | None] = mapped_column(String(128))
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    cached_input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    reasoning_tokens: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[float | None] = mapped_column(Float)


Index("ix_run_events_run_seq", RunEvent.run_id, RunEvent.seq)
Index("ix_run_events_conversation_at", RunEvent.conversation_id, RunEvent.at)
_waiting_to_attach(RunEvent.session_id, RunEvent.conversation_id)
_waiting_to_attach(RunEvent.exchange_id, RunEvent.run_id)


class ToolCallRow(Base):
    """One function call: requested, executed (output), submitted. Never run a call twice."""

    __tablename__ = "tool_calls"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), primary_key=True)
    call_id: Mapped[str] = mapped_column(ID, primary_key=True)
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"))
    name: Mapped[str] = mapped_column(String(256))
    arguments: Mapped[str] = mapped_column(Text)
    output: Mapped[str | None] = mapped_column(Text)
    is_error: Mapped[bool | None] = mapped_column(Boolean)
    error_type: Mapped[str | None] = mapped_column(String(64))
    duration_s: Mapped[float | None] = mapped_column(Float)
    requested_at: Mapped[datetime | None]
    executed_at: Mapped[datetime | None]
    submitted_at: Mapped[datetime | None]


class JournalEntry(Base):
    """One fact of the exchange journal (`proxies.journal`), appended, never changed.

    `kind` is ``exchange`` (text: the user's message, detail: the assistant id),
    ``call_started`` (call id, name, text: the arguments), ``call_finished`` (call id, text:
    the output, is_error, detail: the error type), ``approval_asked`` (call id, name, text: the
    arguments, detail: why), ``approval_answer`` (call id, name: who, is_error: rejected, text:
    the reason) or ``ended`` (detail: the outcome, text: the reply). No foreign keys: the
    journal is written before the events that make those rows.
    """

    __tablename__ = "journal"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    exchange_id: Mapped[str] = mapped_column(String(64), index=True)
    conversation_id: Mapped[str] = mapped_column(ID, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    call_id: Mapped[str | None] = mapped_column(ID)
    name: Mapped[str | None] = mapped_column(String(256))
    text: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(String(128))
    is_error: Mapped[bool | None] = mapped_column(Boolean)
    at: Mapped[datetime]
