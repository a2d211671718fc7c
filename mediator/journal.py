"""The exchange journal: the few facts needed to finish an exchange after the process died.

Written durably, in order, before the next side effect (DESIGN.md section 9):
- the exchange began (its conversation, assistant and the user's message);
- a tool call waits for a person's approval (why), and what they answered: a call approved
  and not yet started is not asked about again, a pending one is shown after a restart;
- a tool call is about to run (call id, name, arguments): written *before* the tool runs;
- a tool call finished (its output): written before the output is sent anywhere;
- the exchange ended (completed with its reply, failed, cancelled).

From these, a tool call with a recorded output is never executed again (its output is sent
instead), and one that started with no recorded outcome is re-run only if the tool is declared
idempotent; otherwise the model is told its outcome is unknown. An exchange with no end is
resumable (`conversation.resume_conversation`). The journal is a protocol at this seam, so the
proxies need no database: `MemoryJournal` is here, the database one in `persistence`.
Its methods block (a database write): the proxies call them in a worker thread, or, for a
journal that queues its writes (`QueuedJournal`), hand it the fact and await its commit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Protocol, runtime_checkable

from mediator.approvals import ApprovalDecision, ApprovalRequest
from tools.types import ToolCall, ToolResult

__all__ = [
    "Journal",
    "JournalApproval",
    "JournalCall",
    "JournalExchange",
    "MemoryJournal",
    "QueuedJournal",
]


@dataclass(frozen=True, slots=True)
class JournalCall:
    """A tool call as the journal knows it: `output` None means started, outcome unknown."""

    call_id: str
    name: str
    arguments: str
    output: str | None = None
    is_error: bool = False
    error_type: str | None = None


@dataclass(frozen=True, slots=True)
class JournalApproval:
    """A call that waited for approval: `approved` None means nobody has answered yet."""

    call_id: str
    name: str
    arguments: str
    why: str
    approved: bool | None = None
    who: str | None = None
    reason: str | None = None

    @property
    def call(self) -> ToolCall:
        return ToolCall(self.call_id, self.name, self.arguments)


@dataclass(frozen=True, slots=True)
class JournalExchange:
    """One exchange as the journal knows it; `ended` None means it never finished."""

    exchange_id: str
    conversation_id: str
    assistant_id: str
    text: str
    ended: str | None = None
    reply: str | None = None
    calls: tuple[JournalCall, ...] = ()
    approvals: tuple[JournalApproval, ...] = ()

    def call(self, call_id: str) -> JournalCall | None:
        return next((c for c in self.calls if c.call_id == call_id), None)

    def approval(self, call_id: str) -> JournalApproval | None:
        return next((a for a in self.approvals if a.call_id == call_id), None)

    @property
    def pending_approvals(self) -> tuple[JournalApproval, ...]:
        """Calls still waiting for a person when the journal was last written."""
        started = {c.call_id for c in self.calls}
        return tuple(a for a in self.approvals if a.approved is None and a.call_id not in started)


class Journal(Protocol):
    """Where the facts are kept; every method is durable when it returns."""

    def exchange_started(
        self, conversation_id: str, exchange_id: str, assistant_id: str, text: str
    ) -> None: ...

    def approvals_requested(
        self, exchange_id: str, requests: Sequence[ApprovalRequest]
    ) -> None: ...

    def approvals_decided(
        self, exchange_id: str, decisions: Sequence[ApprovalDecision]
    ) -> None: ...

    def calls_started(self, exchange_id: str, calls: Sequence[ToolCall]) -> None: ...

    def calls_finished(self, exchange_id: str, results: Sequence[ToolResult]) -> None: ...

    def exchange_ended(self, exchange_id: str, outcome: str, reply: str | None) -> None: ...

    def exchange(self, exchange_id: str) -> JournalExchange | None: ...

    def last_exchange(self, conversation_id: str) -> JournalExchange | None: ...

    def exchanges_of(self, conversation_id: str) -> list[JournalExchange]:
        """Every exchange of the conversation, oldest first (its history, for servers that
        keep none)."""
        ...

    def unfinished(self, limit: int = 50) -> list[JournalExchange]: ...


@runtime_checkable
class QueuedJournal(Protocol):
    """A journal that can queue a write and say when it is durable, so that an event loop
    awaits the commit instead of lending a thread to each write."""

    def submit(self, call: Callable[..., object], *args: Any) -> Future[Any] | None:
        """`call(*args)` (one of this journal's methods) without blocking: the future
        resolves with its result, for a write once it is durable. None: call it instead."""
        ...


@dataclass
class MemoryJournal:
    """A journal in this process's memory (recording off): exactly-once within the process."""

    #: Its calls never wait on anything slow, so callers make them inline, not in a worker
    #: thread (`proxies.journaling.journaled`): a thread hop would cost more than the call.
    blocks: ClassVar[bool] = False

    _exchanges: dict[str, JournalExchange] = field(default_factory=dict)
    _order: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def exchange_started(
        self, conversation_id: str, exchange_id: str, assistant_id: str, text: str
    ) -> None:
        with self._lock:
            if exchange_id not in self._exchanges:
                self._exchanges[exchange_id] = JournalExchange(
                    exchange_id, conversation_id, assistant_id, text
                )
                self._order.append(exchange_id)

    def _known(self, exchange_id: str) -> JournalExchange:
        known = self._exchanges.get(exchange_id)
        if known is None:  # tools run for an exchange begun elsewhere (a bare proxy pair)
            known = self._exchanges[exchange_id] = JournalExchange(exchange_id, "", "", "")
            self._order.append(exchange_id)
        return known

    def approvals_requested(self, exchange_id: str, requests: Sequence[ApprovalRequest]) -> None:
        with self._lock:
            known = self._known(exchange_id)
            added = tuple(
                JournalApproval(r.call.id, r.call.name, r.call.arguments, r.why)
                for r in requests
                if known.approval(r.call.id) is None
            )
            self._exchanges[exchange_id] = replace(known, approvals=known.approvals + added)

    def approvals_decided(self, exchange_id: str, decisions: Sequence[ApprovalDecision]) -> None:
        by_id = {d.call_id: d for d in decisions}
        with self._lock:
            known = self._known(exchange_id)
            approvals = tuple(
                replace(a, approved=d.approved, who=d.who, reason=d.reason)
                if (d := by_id.get(a.call_id)) is not None
                else a
                for a in known.approvals
            )
            self._exchanges[exchange_id] = replace(known, approvals=approvals)

    def calls_started(self, exchange_id: str, calls: Sequence[ToolCall]) -> None:
        with self._lock:
            known = self._known(exchange_id)
            added = tuple(
                JournalCall(c.id, c.name, c.arguments) for c in calls if known.call(c.id) is None
            )
            self._exchanges[exchange_id] = replace(known, calls=known.calls + added)

    def calls_finished(self, exchange_id: str, results: Sequence[ToolResult]) -> None:
        by_id = {r.call_id: r for r in results}
        with self._lock:
            known = self._exchanges.get(exchange_id)
            if known is None:
                return
            calls = tuple(
                replace(c, output=r.output, is_error=r.is_error, error_type=r.error_type)
                if (r := by_id.get(c.call_id)) is not None
                else c
                for c in known.calls
            )
            self._exchanges[exchange_id] = replace(known, calls=calls)

    def exchange_ended(self, exchange_id: str, outcome: str, reply: str | None) -> None:
        with self._lock:
            known = self._exchanges.get(exchange_id)
            if known is not None:
                self._exchanges[exchange_id] = replace(known, ended=outcome, reply=reply)

    def exchange(self, exchange_id: str) -> JournalExchange | None:
        with self._lock:
            return self._exchanges.get(exchange_id)

    def last_exchange(self, conversation_id: str) -> JournalExchange | None:
        with self._lock:
            for exchange_id in reversed(self._order):
                if self._exchanges[exchange_id].conversation_id == conversation_id:
                    return self._exchanges[exchange_id]
        return None

    def exchanges_of(self, conversation_id: str) -> list[JournalExchange]:
        with self._lock:
            found = (self._exchanges[exchange_id] for exchange_id in self._order)
            return [e for e in found if e.conversation_id == conversation_id]

    def unfinished(self, limit: int = 50) -> list[JournalExchange]:
        with self._lock:
            last: dict[str, JournalExchange] = {}
            for exchange_id in self._order:
                exchange = self._exchanges[exchange_id]
                last[exchange.conversation_id] = exchange
        return [e for e in last.values() if e.ended is None][-limit:]
