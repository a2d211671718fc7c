"""What the history queries return: frozen dataclasses, detached from any session.

Plus the checks every query applies to its paging and filter arguments, so that bad input is a
clear `HistoryQueryError` (a `ValueError`) rather than a database error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Generic, TypeVar

from mediator.script import State
from persistence.errors import HistoryQueryError

__all__ = [
    "MAX_LIMIT",
    "AssistantRow",
    "ConversationRow",
    "MessageRow",
    "Page",
    "RunEventRow",
    "RunRow",
    "StateSpan",
    "Timeline",
    "ToolSpan",
    "check_page",
    "check_range",
    "check_status",
]

MAX_LIMIT: Final = 500
"""The largest page any history query returns."""

_STATES: Final = tuple(s.value for s in State)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of `items`, out of `total` matching rows, starting at `offset`.

    `exact` is false when `total` is a lower bound (at least that many rows match): a search
    matched too many rows to count them all (`persistence.history.list_conversations`)."""

    items: tuple[T, ...]
    total: int
    limit: int
    offset: int
    exact: bool = True

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.items) < self.total

    def __len__(self) -> int:
        return len(self.items)


@dataclass(frozen=True, slots=True)
class ConversationRow:
    id: str
    session_id: str | None
    assistant_id: str | None
    backend: str | None
    title: str | None
    created_at: datetime
    updated_at: datetime
    run_count: int
    message_count: int
    last_status: str | None
    """The mediator state of the conversation's latest run (None: no run yet)."""
    total_tokens: int = 0
    """Input and output tokens of all its runs."""
    cost_usd: float | None = None
    """The sum of its runs' costs; None when a run that used tokens has no price known."""


@dataclass(frozen=True, slots=True)
class RunRow:
    id: str
    conversation_id: str | None
    status: str
    started_at: datetime
    ended_at: datetime | None
    duration_s: float | None
    error_message: str | None
    error_code: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None
    event_count: int
    tool_call_count: int
    model: str | None = None
    cached_input_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost_usd: float | None = None
    """US dollars; None when no price is known (or the run reported no usage)."""


@dataclass(frozen=True, slots=True)
class RunEventRow:
    seq: int
    type: str
    topic: str
    state: str
    previous_state: str | None
    trigger: str | None
    tool_name: str | None
    call_id: str | None
    input: str | None
    output: str | None
    code: str | None
    is_error: bool | None
    at: datetime
    run_id: str | None
    conversation_id: str | None


@dataclass(frozen=True, slots=True)
class MessageRow:
    id: int
    conversation_id: str | None
    run_id: str | None
    role: str
    text: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AssistantRow:
    """An assistant defined locally, or only seen in conversations (then name etc. are None)."""

    id: str
    name: str | None
    model: str | None
    backend: str | None
    created_at: datetime | None
    conversation_count: int


@dataclass(frozen=True, slots=True)
class StateSpan:
    """The run was in `state` from `start` to `end` (equal for the final state)."""

    state: str
    start: datetime
    end: datetime
    trigger: str | None


@dataclass(frozen=True, slots=True)
class ToolSpan:
    """A tool call from request (`start`) to executed (`end`, None if it never ran)."""

    call_id: str
    name: str
    start: datetime | None
    end: datetime | None
    submitted_at: datetime | None
    is_error: bool | None
    error_type: str | None


@dataclass(frozen=True, slots=True)
class ApprovalSpan:
    """A tool call waiting for a person from `start` to `end` (None: never answered);
    `outcome` is ``approved by WHO``, ``rejected by WHO: reason`` or None."""

    call_id: str
    name: str
    start: datetime
    end: datetime | None
    approved: bool | None
    outcome: str | None


@dataclass(frozen=True, slots=True)
class Timeline:
    """A run's state intervals, tool-call spans and approval waits, for a chart."""

    run_id: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    states: tuple[StateSpan, ...]
    tool_calls: tuple[ToolSpan, ...]
    approvals: tuple[ApprovalSpan, ...] = ()


def check_page(limit: int, offset: int) -> None:
    """Raise `HistoryQueryError` unless 1 <= `limit` <= `MAX_LIMIT` and `offset` >= 0."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise HistoryQueryError(f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise HistoryQueryError(f"offset must be an integer >= 0, got {offset!r}")


def check_range(since: datetime | None, until: datetime | None) -> None:
    """Raise `HistoryQueryError` unless each is None or an aware datetime, `since` not after
    `until`."""
    for name, value in (("since", since), ("until", until)):
        if value is None:
            continue
        if not isinstance(value, datetime):
            raise HistoryQueryError(f"{name} must be a datetime or None, got {value!r}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise HistoryQueryError(f"{name} must be timezone-aware, got {value!r}")
    if since is not None and until is not None and since > until:
        raise HistoryQueryError(f"since ({since.isoformat()}) is after until ({until.isoformat()})")


def check_status(status: str | None) -> None:
    """Raise `HistoryQueryError` unless `status` is None or a mediator state."""
    if status is not None and (not isinstance(status, str) or status not in _STATES):
        allowed = ", ".join(_STATES)
        raise HistoryQueryError(f"unknown status {status!r}; choose from {allowed}")
