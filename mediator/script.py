"""The interaction script: the one table of states, triggers and transitions.

Both mediators are built from `SCRIPT`, the state diagram is drawn from it and the tests enumerate
it. Nobody restates the table elsewhere: ask this module (`next_state`, `allowed_triggers`,
`destination`) instead.

`SCRIPT` is the table of DESIGN.md section 3, row for row and in its order, kept literal.

"Any non-terminal" is every state except completed, failed and cancelled, so it includes `new`
and `ready`. Both make sense and stay in the table: `failed` from `new` covers an exchange that
dies before a run exists (the thread cannot be created, the deadline passes while waiting for the
thread lock), `failed` from `ready` covers a run that cannot be started (API error, thread locked,
retries exhausted); `cancelled` from either is the user giving up before the run began.

Approval sits between `requires_action` and `tools_executed`: when a requested call needs a
person's consent, ``approval_requested`` moves to `awaiting_approval` (the exchange deadline
stops there); once every such call is decided and the calls allowed to run have run, one of
``approved`` (all of them), ``rejected`` (none) or ``partially_approved`` (some, for parallel
calls) moves on to `tools_executed`. Calls that need no approval skip the state altogether.

Each trigger has exactly one destination (checked at import by `_check_script`), which is what
lets `MediatorBasic` accept any trigger in any state.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class State(StrEnum):
    """Where an exchange stands: the remote run's status merged with the local tool work."""

    NEW = "new"
    READY = "ready"
    STARTED = "started"
    RUNNING = "running"
    REQUIRES_ACTION = "requires_action"
    AWAITING_APPROVAL = "awaiting_approval"
    TOOLS_EXECUTED = "tools_executed"
    TOOL_OUTPUTS_SUBMITTED = "tool_outputs_submitted"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Trigger(StrEnum):
    """What happened; each trigger is also the name of a `Mediator` method."""

    SET_USER_MESSAGE = "set_user_message"
    STARTED = "started"
    HEARTBEAT = "heartbeat"
    ACTION_REQUIRED = "action_required"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    PARTIALLY_APPROVED = "partially_approved"
    TOOLS_EXECUTED = "tools_executed"
    TOOL_OUTPUTS_SUBMITTED = "tool_outputs_submitted"
    ASSISTANT_MESSAGE_RETRIEVED = "assistant_message_retrieved"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the script: `trigger` moves any state in `sources` to `dest`."""

    trigger: Trigger
    sources: frozenset[State]
    dest: State


TERMINAL_STATES: Final[frozenset[State]] = frozenset(
    {State.COMPLETED, State.FAILED, State.CANCELLED}
)
"""An exchange is over in these states; only `set_user_message` leaves them."""

_NON_TERMINAL: Final[frozenset[State]] = frozenset(State) - TERMINAL_STATES
_POLLED: Final[frozenset[State]] = frozenset(
    {State.STARTED, State.RUNNING, State.TOOL_OUTPUTS_SUBMITTED}
)

_DECIDING: Final[frozenset[State]] = frozenset({State.AWAITING_APPROVAL})

SCRIPT: Final[tuple[Transition, ...]] = (
    Transition(Trigger.SET_USER_MESSAGE, TERMINAL_STATES | {State.NEW}, State.READY),
    Transition(Trigger.STARTED, frozenset({State.READY}), State.STARTED),
    Transition(Trigger.HEARTBEAT, _POLLED, State.RUNNING),
    Transition(Trigger.ACTION_REQUIRED, _POLLED, State.REQUIRES_ACTION),
    Transition(
        Trigger.APPROVAL_REQUESTED, frozenset({State.REQUIRES_ACTION}), State.AWAITING_APPROVAL
    ),
    Transition(Trigger.APPROVED, _DECIDING, State.TOOLS_EXECUTED),
    Transition(Trigger.REJECTED, _DECIDING, State.TOOLS_EXECUTED),
    Transition(Trigger.PARTIALLY_APPROVED, _DECIDING, State.TOOLS_EXECUTED),
    Transition(Trigger.TOOLS_EXECUTED, frozenset({State.REQUIRES_ACTION}), State.TOOLS_EXECUTED),
    Transition(
        Trigger.TOOL_OUTPUTS_SUBMITTED,
        frozenset({State.TOOLS_EXECUTED}),
        State.TOOL_OUTPUTS_SUBMITTED,
    ),
    Transition(Trigger.ASSISTANT_MESSAGE_RETRIEVED, _POLLED, State.COMPLETED),
    Transition(Trigger.FAILED, _NON_TERMINAL, State.FAILED),
    Transition(Trigger.CANCELLED, _NON_TERMINAL, State.CANCELLED),
)
"""The interaction script, in the order of DESIGN.md section 3."""

DOTTED: Final[frozenset[tuple[State, Trigger]]] = frozenset(
    (source, trigger)
    for source in (State.STARTED, State.TOOL_OUTPUTS_SUBMITTED)
    for trigger in (Trigger.ACTION_REQUIRED, Trigger.ASSISTANT_MESSAGE_RETRIEVED)
)
"""The seed's dotted edges, as (source, trigger) pairs of `SCRIPT`.

Polling can miss the `running` state, so from `started` and from `tool_outputs_submitted` a run
may jump straight to `requires_action` or `completed`: two shortcuts, each from both states,
four edges in all. Diagrams draw them dotted; the mediators treat them like any other row.
"""


def _check_script(script: tuple[Transition, ...]) -> dict[Trigger, State]:
    """Return each trigger's destination, failing loudly if the table is malformed."""
    destinations: dict[Trigger, State] = {}
    for row in script:
        if row.trigger in destinations:
            raise AssertionError(f"trigger {row.trigger} appears in more than one row")
        if not row.sources:
            raise AssertionError(f"trigger {row.trigger} has no source state")
        destinations[row.trigger] = row.dest
    missing = set(Trigger) - destinations.keys()
    if missing:
        raise AssertionError(f"triggers without a row: {sorted(missing)}")
    return destinations


_DESTINATIONS: Final = MappingProxyType(_check_script(SCRIPT))
_TABLE: Final = MappingProxyType(
    {(source, row.trigger): row.dest for row in SCRIPT for source in row.sources}
)
_ALLOWED: Final = MappingProxyType(
    {
        state: frozenset(trigger for (source, trigger) in _TABLE if source is state)
        for state in State
    }
)


def next_state(state: State, trigger: Trigger) -> State | None:
    """The state `trigger` leads to from `state`, or None if the script forbids it."""
    return _TABLE.get((state, trigger))


def allowed_triggers(state: State) -> frozenset[Trigger]:
    """The triggers the script allows in `state`."""
    return _ALLOWED[state]


def destination(trigger: Trigger) -> State:
    """The single state `trigger` always leads to (wherever it is fired from)."""
    return _DESTINATIONS[trigger]
