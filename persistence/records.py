"""Plain records: what the recorder's listener puts on its queue, and all the writer sees.

`to_record` turns one `MediatorEvent` into an `EventRecord`: strings, numbers and UTC times,
no event or SDK objects, nothing about keys or settings (events carry none, and nothing is
added). Two more record kinds come from the recorder's own API: `ConversationNote` (which
assistant and backend a conversation uses: events do not carry them) and `AssistantRecord`
(a local assistant definition).

Mapping onto the ``run_events`` columns (the seed's ``run_details``):

=====================  =========================  ================================  ===========
event                  input                      output                            tool_name
=====================  =========================  ================================  ===========
MessageSent            the user's text
ActionRequired         JSON list of the calls                                       the names
ApprovalRequested      the call's arguments       why it needs approval             the name
ApprovalGiven          the call's arguments       approved by WHO[: reason]         the name
ApprovalRejected       the call's arguments       rejected by WHO[: reason]         the name
ToolExecuted           the call's arguments       the tool's output                 the name
ToolOutputsSubmitted   JSON list of call ids      JSON list of the outputs          the names
RunStatusChecked                                  the remote status
MessageRetrieved                                  the reply's text
MessageDelta                                      the piece of text (*)
UsageReported                                     the tokens and cost, as text
ExchangeFailed                                    the error (``code``: its code)
ExchangeCancelled                                 the reason
=====================  =========================  ================================  ===========

(*) Consecutive pieces of one exchange that wait together are stored as one row, their text
joined (`persistence.recorder`): a reply streamed a token at a time is not a row per token.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, TypeAlias

from mediator.events import (
    ActionRequired,
    ApprovalGiven,
    ApprovalRejected,
    ApprovalRequested,
    ExchangeCancelled,
    ExchangeFailed,
    MediatorEvent,
    MessageDelta,
    MessageRetrieved,
    MessageSent,
    RunStatusChecked,
    StateChanged,
    ToolExecuted,
    ToolOutputsSubmitted,
    UsageReported,
)

__all__ = [
    "AssistantRecord",
    "CallRecord",
    "ConversationNote",
    "EventRecord",
    "Record",
    "clean_text",
    "to_record",
]

NAME_LIMIT: Final = 256
CODE_LIMIT: Final = 64
MODEL_LIMIT: Final = 128


def clean_text(text: str) -> str:
    """`text` without NUL characters, which PostgreSQL text columns refuse."""
    return text.replace("\x00", "\ufffd") if "\x00" in text else text


def _short(text: str | None, limit: int) -> str | None:
    return None if text is None else clean_text(text)[:limit]


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One function call as the tool-calls table sees it (only the known parts are set)."""

    call_id: str
    name: str
    arguments: str | None = None
    output: str | None = None
    is_error: bool | None = None
    error_type: str | None = None
    duration_s: float | None = None


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event, flattened. `event_uuid`, `exchange_id` and `seq` are given by the recorder."""

    event_uuid: str
    exchange_id: str
    seq: int
    session_id: str | None
    conversation_id: str | None
    run_id: str | None
    type: str
    topic: str
    state: str
    at: datetime
    previous_state: str | None = None
    trigger: str | None = None
    tool_name: str | None = None
    call_id: str | None = None
    input: str | None = None
    output: str | None = None
    code: str | None = None
    is_error: bool | None = None
    role: str | None = None
    """``user`` or ``assistant`` when the event is also a message (its text in input/output)."""
    calls: tuple[CallRecord, ...] = ()
    """Requested (ActionRequired), executed (ToolExecuted) or submitted (ToolOutputsSubmitted)."""
    model: str | None = None
    input_tokens: int | None = None
    cached_input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost_usd: float | None = None

    @property
    def message_text(self) -> str | None:
        return self.input if self.role == "user" else self.output if self.role else None

    @property
    def terminal_error(self) -> str | None:
        """The error or cancel reason this event ends its run with, if any."""
        return self.output if self.type in ("ExchangeFailed", "ExchangeCancelled") else None


@dataclass(frozen=True, slots=True)
class ConversationNote:
    """Facts about a conversation that events do not carry (which assistant, which backend)."""

    conversation_id: str
    assistant_id: str | None = None
    backend: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


@dataclass(frozen=True, slots=True)
class AssistantRecord:
    """A local assistant definition (what a Responses backend needs to recreate it)."""

    id: str
    name: str
    model: str
    backend: str
    instructions: str = ""
    tools: tuple[dict[str, Any], ...] = ()
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


Record: TypeAlias = EventRecord | ConversationNote | AssistantRecord
"""Anything the recorder queues."""


def _names(names: list[str]) -> str | None:
    return _short(", ".join(names), NAME_LIMIT) if names else None


def _requested(event: ActionRequired) -> dict[str, Any]:
    calls = tuple(
        CallRecord(c.id, _short(c.name, NAME_LIMIT) or "", arguments=clean_text(c.arguments))
        for c in event.tool_calls
    )
    listed = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in event.tool_calls]
    return {
        "input": clean_text(json.dumps(listed)),
        "tool_name": _names([c.name for c in event.tool_calls]),
        "calls": calls,
    }


def _executed(event: ToolExecuted) -> dict[str, Any]:
    call, result = event.call, event.result
    record = CallRecord(
        call.id,
        _short(call.name, NAME_LIMIT) or "",
        arguments=clean_text(call.arguments),
        output=clean_text(result.output),
        is_error=result.is_error,
        error_type=_short(result.error_type, CODE_LIMIT),
        duration_s=result.duration_s,
    )
    return {
        "tool_name": record.name,
        "call_id": call.id,
        "input": record.arguments,
        "output": record.output,
        "is_error": result.is_error,
        "code": record.error_type,
        "calls": (record,),
    }


def _approval(event: ApprovalRequested | ApprovalGiven | ApprovalRejected) -> dict[str, Any]:
    call = event.call
    if isinstance(event, ApprovalRequested):
        output = event.why
    else:
        verdict = "approved" if isinstance(event, ApprovalGiven) else "rejected"
        output = f"{verdict} by {event.who}" + (f": {event.reason}" if event.reason else "")
    return {
        "tool_name": _short(call.name, NAME_LIMIT),
        "call_id": call.id,
        "input": clean_text(call.arguments),
        "output": clean_text(output),
    }


def _submitted(event: ToolOutputsSubmitted) -> dict[str, Any]:
    calls = tuple(
        CallRecord(r.call_id, _short(r.name, NAME_LIMIT) or "", output=clean_text(r.output))
        for r in event.results
    )
    return {
        "input": json.dumps([r.call_id for r in event.results]),
        "output": clean_text(json.dumps([r.output for r in event.results])),
        "tool_name": _names([r.name for r in event.results]),
        "calls": calls,
    }


def _usage(event: UsageReported) -> dict[str, Any]:
    usage = event.usage
    return {
        "output": str(event).removeprefix("Usage: "),
        "model": _short(event.model, MODEL_LIMIT),
        "input_tokens": usage.input_tokens,
        "cached_input_tokens": usage.cached_input_tokens,
        "output_tokens": usage.output_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "cost_usd": event.cost_usd,
    }


_DETAILS: Final[dict[type[MediatorEvent], Callable[[Any], dict[str, Any]]]] = {
    StateChanged: lambda e: {"previous_state": str(e.previous), "trigger": str(e.trigger)},
    MessageSent: lambda e: {"input": clean_text(e.text), "role": "user"},
    MessageRetrieved: lambda e: {"output": clean_text(e.text), "role": "assistant"},
    MessageDelta: lambda e: {"output": clean_text(e.delta)},
    RunStatusChecked: lambda e: {"output": clean_text(e.status)},
    ActionRequired: _requested,
    ApprovalRequested: _approval,
    ApprovalGiven: _approval,
    ApprovalRejected: _approval,
    ToolExecuted: _executed,
    ToolOutputsSubmitted: _submitted,
    UsageReported: _usage,
    ExchangeFailed: lambda e: {"output": clean_text(e.error), "code": _short(e.code, CODE_LIMIT)},
    ExchangeCancelled: lambda e: {"output": clean_text(e.reason)},
}
"""The type-specific columns of each event type (`RunStarted` has none)."""


def to_record(event: MediatorEvent, *, event_uuid: str, exchange_id: str, seq: int) -> EventRecord:
    """Flatten `event` into an `EventRecord` (position `seq` in exchange `exchange_id`)."""
    details = _DETAILS.get(type(event))
    return EventRecord(
        event_uuid=event_uuid,
        exchange_id=exchange_id,
        seq=seq,
        session_id=event.session_id,
        conversation_id=event.conversation_id,
        run_id=event.run_id,
        type=type(event).__name__,
        topic=event.topic,
        state=str(event.state),
        at=event.at,
        **(details(event) if details is not None else {}),
    )
