"""The state the stateless backends keep: conversations, exchanges, and what a request
sends and answers (`proxies.backends.replay` runs them)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from mediator.usage import Usage
from proxies.backends.base import (
    AssistantDefinition,
    RunError,
    RunSnapshot,
    RunStatus,
    RunStepInfo,
    TextDelta,
)
from proxies.backends.history import Answered, Called, HistoryItem, Said, Unit
from tools.types import ToolCall, ToolResult

__all__ = ["Conversation", "Exchange", "Outcome", "Request", "StreamEvent"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one request ended: the model's texts and calls, or why it did not complete."""

    status: RunStatus
    texts: tuple[str, ...] = ()
    calls: tuple[ToolCall, ...] = ()
    error: RunError | None = None
    #: The server's id for what it answered, where it keeps it (for chaining).
    response_id: str | None = None
    #: The tokens this request cost, as the server reported them (None: it did not say).
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class Request:
    """What one request sends: the definition, and the conversation as units that fit."""

    definition: AssistantDefinition
    units: tuple[Unit, ...]
    #: The server's response that holds the conversation up to `since_chain` (a chaining
    #: backend sends only the items after it), if the server keeps responses.
    chain_from: str | None = None
    since_chain: tuple[HistoryItem, ...] = ()


#: A stream's progress: a status for the snapshot, a piece of text, or the outcome.
StreamEvent = RunStatus | TextDelta | Outcome


@dataclass
class Conversation:
    """A conversation's items, oldest first, as this process knows them."""

    id: str
    items: list[HistoryItem] = field(default_factory=list)
    #: (response id, how many items it covers): where the server's own memory stands.
    anchor: tuple[str, int] | None = None


@dataclass
class Exchange:
    """One exchange: its replies and steps, the calls it waits on, its request in flight."""

    id: str
    conversation: Conversation
    definition: AssistantDefinition
    texts: list[str] = field(default_factory=list)
    steps: list[RunStepInfo] = field(default_factory=list)
    pending: tuple[ToolCall, ...] = ()  # calls asked for and not answered yet
    task: asyncio.Task[Outcome] | None = None
    looked: bool = False  # `get_run` looked at the current request already
    last: RunSnapshot | None = None  # the last request's final snapshot
    usage: Usage | None = None  # the sum over the exchange's requests, each counted once

    def snapshot(
        self,
        status: RunStatus,
        calls: tuple[ToolCall, ...] = (),
        error: RunError | None = None,
        *,
        poll_after_s: float | None = None,
    ) -> RunSnapshot:
        return RunSnapshot(
            run_id=self.id,
            thread_id=self.conversation.id,
            status=status,
            tool_calls=calls if status is RunStatus.REQUIRES_ACTION else (),
            error=error,
            poll_after_s=poll_after_s,
            usage=self.usage,
            model=self.definition.model,
        )

    def fold(self, outcome: Outcome) -> RunSnapshot:
        """Keep what the model answered in the conversation (once) and describe it."""
        conversation = self.conversation
        if outcome.usage is not None:
            self.usage = outcome.usage if self.usage is None else self.usage + outcome.usage
        for text in outcome.texts:
            self.texts.append(text)
            conversation.items.append(Said("assistant", text, self.id))
            self.steps.append(
                RunStepInfo(f"msg_{len(self.steps)}", "message_creation", "completed", text[:200])
            )
        conversation.items.extend(Called(c.id, c.name, c.arguments, self.id) for c in outcome.calls)
        self.pending = outcome.calls
        status = outcome.status
        if status is RunStatus.COMPLETED and outcome.calls:
            status = RunStatus.REQUIRES_ACTION
        if outcome.response_id is not None and status in (
            RunStatus.COMPLETED,
            RunStatus.REQUIRES_ACTION,
        ):
            conversation.anchor = (outcome.response_id, len(conversation.items))
        self.last = self.snapshot(status, outcome.calls, outcome.error)
        return self.last

    def answer(self, results: Sequence[ToolResult]) -> None:
        """Add the outputs of the waiting calls (each once, whatever the retries)."""
        waiting = {call.id: call for call in self.pending}
        answered: set[str] = set()
        for result in results:
            call = waiting.get(result.call_id)
            if call is None:
                continue
            answered.add(call.id)
            self.conversation.items.append(Answered(call.id, result.output, self.id))
            detail = f"{call.name}({call.arguments}) -> {result.output}"
            self.steps.append(RunStepInfo(call.id, "tool_calls", "completed", detail))
        self.pending = tuple(call for call in self.pending if call.id not in answered)
