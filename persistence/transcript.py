"""A conversation's transcript rebuilt from the recorded rows: what a chat page redraws.

One `TranscriptTurn` per exchange, in the order its user message was recorded: the message,
the tool calls its runs executed (in the order they were requested), and how it ended (the
reply, or the run's error). An exchange whose process died has a message and no ending; the
journal, not this module, decides whether it can still be finished.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mediator.usage import Spend, Usage
from persistence.models import Conversation, Message, Run, ToolCallRow

__all__ = ["Transcript", "TranscriptCall", "TranscriptTurn", "conversation_transcript"]

#: A chat page shows a conversation, not an archive: beyond this, the oldest turns are left out.
MAX_TURNS = 500


@dataclass(frozen=True, slots=True)
class TranscriptCall:
    call_id: str
    name: str
    arguments: str
    output: str | None
    is_error: bool
    error_type: str | None
    duration_s: float


@dataclass(frozen=True, slots=True)
class TranscriptTurn:
    exchange_id: str
    prompt: str
    at: datetime
    calls: tuple[TranscriptCall, ...] = ()
    reply: str | None = None
    status: str | None = None  # the last run's status; None when no run was recorded
    error: str | None = None
    spend: Spend = Spend()  # tokens and cost of its runs (one report per run that used any)


@dataclass(frozen=True, slots=True)
class Transcript:
    conversation_id: str
    assistant_id: str | None
    turns: tuple[TranscriptTurn, ...]


def conversation_transcript(
    session: Session, conversation_id: str, *, max_turns: int = MAX_TURNS
) -> Transcript | None:
    """The conversation's turns, oldest first (at most `max_turns`, the newest); None if unknown."""
    assistant_id = session.scalar(
        select(Conversation.assistant_id).where(Conversation.id == conversation_id)
    )
    prompts = session.execute(
        select(Message.exchange_id, Message.text, Message.created_at)
        .where(Message.conversation_id == conversation_id, Message.role == "user")
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(max_turns)
    ).all()
    if assistant_id is None and not prompts:
        exists = session.scalar(select(Conversation.id).where(Conversation.id == conversation_id))
        if exists is None:
            return None
    exchange_ids = [row.exchange_id for row in prompts if row.exchange_id]
    replies = _replies(session, conversation_id, exchange_ids)
    runs = _last_runs(session, exchange_ids)
    calls = _calls(session, exchange_ids)
    spends = _spends(session, exchange_ids)
    turns = tuple(
        TranscriptTurn(
            exchange_id=row.exchange_id or "",
            prompt=row.text,
            at=row.created_at,
            calls=tuple(calls.get(row.exchange_id, ())),
            reply=replies.get(row.exchange_id),
            status=runs.get(row.exchange_id, (None, None))[0],
            error=runs.get(row.exchange_id, (None, None))[1],
            spend=spends.get(row.exchange_id or "", Spend()),
        )
        for row in reversed(prompts)
    )
    return Transcript(conversation_id, assistant_id, turns)


def _replies(session: Session, conversation_id: str, exchange_ids: list[str]) -> dict[str, str]:
    rows = session.execute(
        select(Message.exchange_id, Message.text)
        .where(
            Message.conversation_id == conversation_id,
            Message.role == "assistant",
            Message.exchange_id.in_(exchange_ids),
        )
        .order_by(Message.created_at, Message.id)
    )
    return {row.exchange_id: row.text for row in rows}  # the last reply of an exchange wins


def _last_runs(session: Session, exchange_ids: list[str]) -> dict[str, tuple[str, str | None]]:
    rows = session.execute(
        select(Run.exchange_id, Run.status, Run.error_message)
        .where(Run.exchange_id.in_(exchange_ids))
        .order_by(Run.started_at, Run.id)
    )
    return {row.exchange_id: (row.status, row.error_message) for row in rows}


def _calls(session: Session, exchange_ids: list[str]) -> dict[str, list[TranscriptCall]]:
    rows = session.execute(
        select(Run.exchange_id, ToolCallRow)
        .join(Run, Run.id == ToolCallRow.run_id)
        .where(Run.exchange_id.in_(exchange_ids))
        .order_by(ToolCallRow.requested_at, ToolCallRow.call_id)
    )
    calls: dict[str, list[TranscriptCall]] = defaultdict(list)
    for exchange_id, call in rows:
        if exchange_id is None:
            continue
        calls[exchange_id].append(
            TranscriptCall(
                call_id=call.call_id,
                name=call.name,
                arguments=call.arguments,
                output=call.output,
                is_error=bool(call.is_error),
                error_type=call.error_type,
                duration_s=call.duration_s or 0.0,
            )
        )
    return calls


def _spends(session: Session, exchange_ids: list[str]) -> dict[str, Spend]:
    """Each exchange's usage and cost, from its runs' sums (`persistence.statements`)."""
    rows = session.execute(
        select(
            Run.exchange_id,
            func.coalesce(func.sum(Run.prompt_tokens), 0),
            func.coalesce(func.sum(Run.cached_input_tokens), 0),
            func.coalesce(func.sum(Run.completion_tokens), 0),
            func.coalesce(func.sum(Run.reasoning_tokens), 0),
            func.coalesce(func.sum(Run.cost_usd), 0.0),
            func.count(Run.id).filter(Run.total_tokens > 0),
            func.count(Run.id).filter(Run.total_tokens > 0, Run.cost_usd.is_(None)),
        )
        .where(Run.exchange_id.in_(exchange_ids))
        .group_by(Run.exchange_id)
    )
    spends: dict[str, Spend] = {}
    for exchange_id, *counts, cost, reports, unpriced in rows:
        if exchange_id is not None:
            usage = Usage(*(int(count or 0) for count in counts))
            spends[exchange_id] = Spend(usage, float(cost or 0.0), int(reports), int(unpriced))
    return spends
