"""The events a mediator publishes: typed, immutable, past tense.

Every event carries the conversation (thread) id, the run id, the state after the change and a
UTC timestamp, plus its own data and nothing else: no keys, no settings, no SDK objects. Each
event type has a pypubsub topic (`topic`); the seed's four topic names are kept
(``sentMessage``, ``executedTool``, ``retrievedMessage``, ``error``).

`str(event)` is the one-line, human-readable form the seed showed in its chat and history
pages (``System: called get_stock_price(symbol=AAPL) → price=190.5, ...``); tool calls take
the compact form of `tools.formatting`, long payloads are shortened and whitespace is folded
so that a line stays a line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar, Final

from mediator.script import State, Trigger
from mediator.usage import Usage, format_usd
from tools.formatting import call_summary, tool_call_line
from tools.types import ToolCall, ToolResult

__all__ = [
    "ALL_TOPICS",
    "EVENT_TYPES",
    "ActionRequired",
    "ApprovalGiven",
    "ApprovalRejected",
    "ApprovalRequested",
    "ConversationBound",
    "ExchangeCancelled",
    "ExchangeFailed",
    "MediatorEvent",
    "MessageDelta",
    "MessageRetrieved",
    "MessageSent",
    "Reconciled",
    "RunStarted",
    "RunStatusChecked",
    "StateChanged",
    "ToolExecuted",
    "ToolOutputsSubmitted",
    "UsageReported",
]

TEXT_LIMIT: Final = 120
"""Longest message text `str(event)` shows, in characters."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def shorten(text: str, limit: int) -> str:
    """Fold whitespace to single spaces and cut `text` to at most `limit` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


@dataclass(frozen=True, kw_only=True, slots=True)
class MediatorEvent:
    """What every event carries.

    Attributes:
        conversation_id: the conversation (thread) id, None before the conversation is bound.
        run_id: the run (exchange) id, None before a run starts.
        state: the mediator's state after the change this event reports.
        at: when it happened, timezone-aware, normalised to UTC.
        session_id: the local id of the mediator that published it; unlike the conversation
            id it exists from the very first event, so listeners can follow one conversation
            object before its remote thread is created.
        exchange_id: the exchange (one user message and its answer) this event belongs to,
            minted by the mediator when the user's message arrives; None before the first.
        seq: the event's position within its exchange (0 for the first), given by the
            mediator, so listeners can order and deduplicate without keeping state.
    """

    topic: ClassVar[str]
    """The pypubsub topic this event type is published on."""

    conversation_id: str | None
    run_id: str | None
    state: State
    at: datetime = field(default_factory=_utcnow)
    session_id: str | None = None
    exchange_id: str | None = None
    seq: int = 0

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError(f"{type(self).__name__}.at must be timezone-aware, got {self.at!r}")
        if self.at.tzinfo is not UTC:
            object.__setattr__(self, "at", self.at.astimezone(UTC))


@dataclass(frozen=True, kw_only=True, slots=True)
class ConversationBound(MediatorEvent):
    """The remote conversation exists: `conversation_id` on `backend`, with `assistant_id`."""

    topic: ClassVar[str] = "boundConversation"
    assistant_id: str
    backend: str

    def __str__(self) -> str:
        return f"Conversation {self.conversation_id} with {self.assistant_id} ({self.backend})"


@dataclass(frozen=True, kw_only=True, slots=True)
class StateChanged(MediatorEvent):
    """The mediator moved from `previous` to `state` because of `trigger`."""

    topic: ClassVar[str] = "stateChanged"
    previous: State
    trigger: Trigger

    def __str__(self) -> str:
        return f"State: {self.previous} -> {self.state} ({self.trigger})"


@dataclass(frozen=True, kw_only=True, slots=True)
class MessageSent(MediatorEvent):
    """The user's message was handed to the assistant side."""

    topic: ClassVar[str] = "sentMessage"
    text: str

    def __str__(self) -> str:
        return f"User: {shorten(self.text, TEXT_LIMIT)}"


@dataclass(frozen=True, kw_only=True, slots=True)
class RunStarted(MediatorEvent):
    """A run (exchange) started remotely; `run_id` is set from here on. `model` is the model
    the server says runs it, when it says."""

    topic: ClassVar[str] = "startedRun"
    model: str | None = None

    def __str__(self) -> str:
        return f"Assistant: started run {self.run_id}"


@dataclass(frozen=True, kw_only=True, slots=True)
class RunStatusChecked(MediatorEvent):
    """A poll found the run still active (`status` is ``queued``, ``in_progress``...)."""

    topic: ClassVar[str] = "checkedRunStatus"
    status: str

    def __str__(self) -> str:
        return f"Assistant: run {self.run_id} is {self.status}"


@dataclass(frozen=True, kw_only=True, slots=True)
class ActionRequired(MediatorEvent):
    """The assistant asked for these function calls to be executed."""

    topic: ClassVar[str] = "requiredAction"
    tool_calls: tuple[ToolCall, ...]

    def __post_init__(self) -> None:
        MediatorEvent.__post_init__(self)
        object.__setattr__(self, "tool_calls", tuple(self.tool_calls))

    def __str__(self) -> str:
        return "Assistant: requested " + ", ".join(call_summary(c) for c in self.tool_calls)


@dataclass(frozen=True, kw_only=True, slots=True)
class ApprovalRequested(MediatorEvent):
    """A person is asked whether `call` may run (its `arguments` as the model sent them);
    `why` says what asked for approval (the tool's rule, or ``APPROVE_TOOLS``)."""

    topic: ClassVar[str] = "requestedApproval"
    call: ToolCall
    why: str

    @property
    def arguments(self) -> str:
        return self.call.arguments

    def __str__(self) -> str:
        return f"Approval: {call_summary(self.call)}? ({shorten(self.why, TEXT_LIMIT)})"


@dataclass(frozen=True, kw_only=True, slots=True)
class ApprovalGiven(MediatorEvent):
    """`who` approved `call` (at `at`), with an optional `reason`; it runs next."""

    topic: ClassVar[str] = "gaveApproval"
    call: ToolCall
    who: str
    reason: str | None = None

    def __str__(self) -> str:
        why = f": {shorten(self.reason, TEXT_LIMIT)}" if self.reason else ""
        return f"Approval: {self.who} approved {call_summary(self.call)}{why}"


@dataclass(frozen=True, kw_only=True, slots=True)
class ApprovalRejected(MediatorEvent):
    """`who` rejected `call` (at `at`), with an optional `reason`; it will not run, and the
    model is told the user declined."""

    topic: ClassVar[str] = "rejectedApproval"
    call: ToolCall
    who: str
    reason: str | None = None

    def __str__(self) -> str:
        why = f": {shorten(self.reason, TEXT_LIMIT)}" if self.reason else ""
        return f"Approval: {self.who} rejected {call_summary(self.call)}{why}"


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolExecuted(MediatorEvent):
    """One function call was executed locally (published once per call)."""

    topic: ClassVar[str] = "executedTool"
    call: ToolCall
    result: ToolResult

    def __str__(self) -> str:
        return f"System: called {tool_call_line(self.call, self.result)}"


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolOutputsSubmitted(MediatorEvent):
    """The tool outputs went back to the assistant."""

    topic: ClassVar[str] = "submittedToolOutputs"
    results: tuple[ToolResult, ...]

    def __post_init__(self) -> None:
        MediatorEvent.__post_init__(self)
        object.__setattr__(self, "results", tuple(self.results))

    def __str__(self) -> str:
        names = ", ".join(r.name for r in self.results)
        count = len(self.results)
        return f"System: submitted {count} tool output{'' if count == 1 else 's'} ({names})"


@dataclass(frozen=True, kw_only=True, slots=True)
class MessageRetrieved(MediatorEvent):
    """The assistant's reply arrived; the exchange is complete."""

    topic: ClassVar[str] = "retrievedMessage"
    text: str

    def __str__(self) -> str:
        return f"Assistant: {shorten(self.text, TEXT_LIMIT)}"


@dataclass(frozen=True, kw_only=True, slots=True)
class MessageDelta(MediatorEvent):
    """A piece of the reply arrived while streaming; the state does not change."""

    topic: ClassVar[str] = "messageDelta"
    delta: str

    def __str__(self) -> str:
        return f"Assistant (partial): {shorten(self.delta, TEXT_LIMIT)}"


@dataclass(frozen=True, kw_only=True, slots=True)
class UsageReported(MediatorEvent):
    """The API reported tokens used by the run since the last report: `usage`, on `model`,
    costing `cost_usd` (None when no price is known for the model). `whole_run` says the
    protocol reports usage per run (Assistants), not per model response (Responses): the
    report then covers every model call of the run, not only the last one."""

    topic: ClassVar[str] = "reportedUsage"
    model: str | None
    usage: Usage
    cost_usd: float | None = None
    whole_run: bool = False

    def __str__(self) -> str:
        cost = "no price known" if self.cost_usd is None else format_usd(self.cost_usd)
        return f"Usage: {self.usage} tokens, {cost} ({self.model or 'unknown model'})"


@dataclass(frozen=True, kw_only=True, slots=True)
class Reconciled(MediatorEvent):
    """After a request whose outcome was unknown (`request`, failing with `error`), the
    Assistant Proxy looked at what exists remotely and found `found` (e.g. "run run_1 is
    in_progress: adopted", "nothing: sending again")."""

    topic: ClassVar[str] = "reconciled"
    request: str
    error: str
    found: str

    def __str__(self) -> str:
        return f"Recovered: {self.request} failed ({shorten(self.error, TEXT_LIMIT)}); {self.found}"


@dataclass(frozen=True, kw_only=True, slots=True)
class ExchangeFailed(MediatorEvent):
    """The exchange failed; `error` is the human message, `code` the machine-readable one."""

    topic: ClassVar[str] = "error"
    error: str
    code: str | None

    def __str__(self) -> str:
        suffix = f" [{self.code}]" if self.code else ""
        return f"Error: {shorten(self.error, TEXT_LIMIT)}{suffix}"


@dataclass(frozen=True, kw_only=True, slots=True)
class ExchangeCancelled(MediatorEvent):
    """The exchange was cancelled, for `reason`."""

    topic: ClassVar[str] = "cancelled"
    reason: str

    def __str__(self) -> str:
        return f"Cancelled: {shorten(self.reason, TEXT_LIMIT)}"


EVENT_TYPES: Final[tuple[type[MediatorEvent], ...]] = (
    ConversationBound,
    StateChanged,
    MessageSent,
    RunStarted,
    RunStatusChecked,
    ActionRequired,
    ApprovalRequested,
    ApprovalGiven,
    ApprovalRejected,
    ToolExecuted,
    ToolOutputsSubmitted,
    MessageRetrieved,
    MessageDelta,
    Reconciled,
    UsageReported,
    ExchangeFailed,
    ExchangeCancelled,
)
"""Every concrete event type, one per topic."""

ALL_TOPICS: Final[tuple[str, ...]] = tuple(cls.topic for cls in EVENT_TYPES)
"""Every topic a mediator publishes on."""
