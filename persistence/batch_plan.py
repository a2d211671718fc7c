"""Planning one batch: pure Python, no database.

Turns a batch of records into the rows and updates the writer will apply in one transaction.
This is where records that arrived before their remote ids are attached:

- **Conversation**: the first events of a new conversation (the user's first message, the move
  to ``ready``) have no conversation id yet. Every event carries the mediator's `session_id`,
  so once an event of the session shows the conversation id, all the session's events get it:
  in the batch here, and already stored rows through a backfill update.
- **Run**: events before a run starts (the move to ``ready``, the user's message) belong to the
  run that follows: the recorder gives every event of one exchange the same `exchange_id`, and
  once an event of the exchange shows the run id, the exchange's earlier events get it, the same
  way. An exchange that never gets a run (it failed or was cancelled before) keeps run NULL.

`WriterMemory` remembers the attachments already committed, so each backfill runs once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Final, TypeVar

from mediator.script import TERMINAL_STATES
from persistence.records import AssistantRecord, ConversationNote, EventRecord, Record

__all__ = [
    "BatchPlan",
    "ConversationSpan",
    "Recent",
    "RunChange",
    "RunStart",
    "WriterMemory",
    "plan_batch",
]

_TERMINAL = frozenset(str(s) for s in TERMINAL_STATES)


MEMORY_SIZE: Final = 50_000
"""Most attachments `WriterMemory` keeps of each kind; older ones are forgotten (harmless:
an attachment forgotten is only looked up, or backfilled, again)."""

K = TypeVar("K")
V = TypeVar("V")


class Recent(OrderedDict[K, V]):
    """A dict that keeps only its `size` most recently added keys."""

    def __init__(self, size: int = MEMORY_SIZE) -> None:
        super().__init__()
        self.size = size

    def remember(self, items: dict[K, V]) -> None:
        for key, value in items.items():
            self[key] = value
            self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


@dataclass
class WriterMemory:
    """What the writer knows is committed: session -> conversation, exchange -> run, run starts,
    and the conversations whose row exists with its session set."""

    conversations: Recent[str, str] = field(default_factory=Recent)
    runs: Recent[str, str] = field(default_factory=Recent)
    run_starts: Recent[str, datetime] = field(default_factory=Recent)
    claimed: Recent[str, str] = field(default_factory=Recent)
    """Conversation ids whose row exists with a session set (the value: the session of the batch
    that made it so). Such a row needs neither its insert nor its session claim again, only its
    ``updated_at`` touched (two statements fewer in every batch of a live conversation); rows
    are never deleted while a recorder runs."""

    def learn(self, plan: BatchPlan) -> None:
        """Remember `plan`'s attachments; call only after its transaction committed."""
        self.conversations.remember(plan.session_bindings)
        self.runs.remember(plan.exchange_bindings)
        self.run_starts.remember(plan.known_starts)
        self.claimed.remember(
            {
                span.conversation_id: span.session_id
                for span in plan.conversations.values()
                if span.session_id is not None
            }
        )


@dataclass(slots=True)
class ConversationSpan:
    """A conversation touched by the batch: its first session and its first and last times.

    Widened in place as the batch's events are folded in (one object per conversation).
    """

    conversation_id: str
    session_id: str | None
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True, slots=True)
class RunStart:
    """A run seen in the batch: the row to insert if it does not exist yet."""

    run_id: str
    conversation_id: str | None
    session_id: str | None
    exchange_id: str
    status: str
    started_at: datetime
    certain: bool
    """True when `started_at` is the run's real start (its first event, ``started``), False
    when the run was first seen mid-way (the recorder started late, or forgot it)."""


@dataclass(slots=True)
class RunChange:
    """The run's state after the batch: latest status, and how it ended if it did."""

    run_id: str
    status: str
    ended_at: datetime | None = None
    error_message: str | None = None
    error_code: str | None = None


@dataclass
class BatchPlan:
    """Everything one batch writes, in the order the writer applies it."""

    events: list[EventRecord] = field(default_factory=list)
    assistants: list[AssistantRecord] = field(default_factory=list)
    notes: list[ConversationNote] = field(default_factory=list)
    conversations: dict[str, ConversationSpan] = field(default_factory=dict)
    run_starts: list[RunStart] = field(default_factory=list)
    run_changes: dict[str, RunChange] = field(default_factory=dict)
    session_bindings: dict[str, str] = field(default_factory=dict)
    """New session -> conversation attachments: backfill stored rows."""
    exchange_bindings: dict[str, str] = field(default_factory=dict)
    """New exchange -> run attachments: backfill stored rows."""

    @property
    def messages(self) -> list[EventRecord]:
        return [e for e in self.events if e.role is not None]

    @property
    def usage_runs(self) -> list[str]:
        """Runs that got a usage report in this batch: their sums are taken again."""
        return sorted({e.run_id for e in self.events if e.run_id and e.input_tokens is not None})

    @property
    def known_starts(self) -> dict[str, datetime]:
        """Start times of the runs that started in this batch."""
        return {s.run_id: s.started_at for s in self.run_starts if s.certain}

    @property
    def titled_conversations(self) -> set[str]:
        """Conversations that may have got their first user message in this batch."""
        found = {e.conversation_id for e in self.events if e.role == "user" and e.conversation_id}
        return found | set(self.session_bindings.values())


def _bindings(
    events: Sequence[EventRecord], memory: WriterMemory
) -> tuple[dict[str, str], dict[str, str]]:
    """New (session -> conversation) and (exchange -> run) attachments shown by `events`."""
    sessions: dict[str, str] = {}
    exchanges: dict[str, str] = {}
    for event in events:
        session = event.session_id
        if session and event.conversation_id and session not in memory.conversations:
            sessions.setdefault(session, event.conversation_id)
        if event.run_id and event.exchange_id not in memory.runs:
            exchanges.setdefault(event.exchange_id, event.run_id)
    return sessions, exchanges


def _attach(event: EventRecord, sessions: dict[str, str], exchanges: dict[str, str]) -> EventRecord:
    conversation = event.conversation_id
    if conversation is None and event.session_id:
        conversation = sessions.get(event.session_id)
    run = event.run_id or exchanges.get(event.exchange_id)
    if conversation == event.conversation_id and run == event.run_id:
        return event
    return replace(event, conversation_id=conversation, run_id=run)


def _span(plan: BatchPlan, event: EventRecord) -> None:
    conversation = event.conversation_id
    if conversation is None:
        return
    span = plan.conversations.get(conversation)
    if span is None:
        plan.conversations[conversation] = ConversationSpan(
            conversation, event.session_id, event.at, event.at
        )
    elif event.at < span.first_at:
        span.first_at = event.at
    elif event.at > span.last_at:
        span.last_at = event.at


def _run_change(
    plan: BatchPlan, event: EventRecord, own_run: str | None, started: set[str]
) -> None:
    """Fold `event` into its run's change; `own_run` is the run id the event itself carried."""
    if own_run is not None and own_run not in started:
        started.add(own_run)
        plan.run_starts.append(
            RunStart(
                run_id=own_run,
                conversation_id=event.conversation_id,
                session_id=event.session_id,
                exchange_id=event.exchange_id,
                status=event.state,
                started_at=event.at,
                certain=event.state == "started",
            )
        )
    run = event.run_id
    if run is None:
        return
    change = plan.run_changes.get(run)
    if change is None:  # not setdefault: that would make a RunChange for every event
        change = plan.run_changes[run] = RunChange(run, event.state)
    change.status = event.state
    if event.type == "StateChanged" and event.state in _TERMINAL:
        change.ended_at = event.at
    if event.terminal_error is not None:
        change.error_message = event.terminal_error
        change.error_code = event.code


def plan_batch(batch: Sequence[Record], memory: WriterMemory) -> BatchPlan:
    """Resolve `batch` against `memory` into a `BatchPlan` (`memory` is not changed)."""
    plan = BatchPlan()
    raw: list[EventRecord] = []
    for record in batch:
        if isinstance(record, EventRecord):
            raw.append(record)
        elif isinstance(record, ConversationNote):
            plan.notes.append(record)
        else:
            plan.assistants.append(record)
    plan.session_bindings, plan.exchange_bindings = _bindings(raw, memory)
    sessions = {**memory.conversations, **plan.session_bindings}
    exchanges = {**memory.runs, **plan.exchange_bindings}
    started: set[str] = set(memory.run_starts)
    for record in raw:
        event = _attach(record, sessions, exchanges)
        plan.events.append(event)
        _span(plan, event)
        _run_change(plan, event, record.run_id, started)
    return plan
