"""The mediator: the interaction script, the two mediators, their events and the event bus.

The User Proxy and the Assistant Proxy never talk directly; a `Mediator` goes between them,
follows the script in `mediator.script`, and publishes an event (`mediator.events`) on every
state change and every remote call, through pypubsub (`mediator.bus`).
"""

from __future__ import annotations

from mediator.approvals import ApprovalDecision, ApprovalRequest
from mediator.base import Mediator
from mediator.basic import MediatorBasic
from mediator.bus import Listener, Subscription, define_topics, publish, subscribe
from mediator.errors import (
    ApprovalNotPendingError,
    ExchangeCancelledError,
    ExchangeError,
    ExchangeFailedError,
    ExchangeSuspendedError,
    ExchangeTimeoutError,
    InvalidTransitionError,
    MediatorError,
    ToolkitError,
)
from mediator.events import (
    ALL_TOPICS,
    EVENT_TYPES,
    ActionRequired,
    ApprovalGiven,
    ApprovalRejected,
    ApprovalRequested,
    ConversationBound,
    ExchangeCancelled,
    ExchangeFailed,
    MediatorEvent,
    MessageDelta,
    MessageRetrieved,
    MessageSent,
    Reconciled,
    RunStarted,
    RunStatusChecked,
    StateChanged,
    ToolExecuted,
    ToolOutputsSubmitted,
    UsageReported,
)
from mediator.factory import MEDIATOR_KINDS, MediatorKind, create_mediator, mediator_factory
from mediator.participants import (
    ApprovingUserSide,
    AssistantSide,
    SuspendableAssistantSide,
    UserSide,
)
from mediator.script import (
    DOTTED,
    SCRIPT,
    TERMINAL_STATES,
    State,
    Transition,
    Trigger,
    allowed_triggers,
    destination,
    next_state,
)
from mediator.state_machine import MediatorStateMachine
from mediator.usage import Spend, Usage, format_usd

__all__ = [
    "ALL_TOPICS",
    "DOTTED",
    "EVENT_TYPES",
    "MEDIATOR_KINDS",
    "SCRIPT",
    "TERMINAL_STATES",
    "ToolkitError",
    "ActionRequired",
    "ApprovalDecision",
    "ApprovalGiven",
    "ApprovalNotPendingError",
    "ApprovalRejected",
    "ApprovalRequest",
    "ApprovalRequested",
    "ApprovingUserSide",
    "AssistantSide",
    "ConversationBound",
    "ExchangeCancelled",
    "ExchangeCancelledError",
    "ExchangeError",
    "ExchangeFailed",
    "ExchangeFailedError",
    "ExchangeSuspendedError",
    "ExchangeTimeoutError",
    "InvalidTransitionError",
    "Listener",
    "Mediator",
    "MediatorBasic",
    "MediatorError",
    "MediatorEvent",
    "MediatorKind",
    "MediatorStateMachine",
    "MessageDelta",
    "MessageRetrieved",
    "MessageSent",
    "SuspendableAssistantSide",
    "Reconciled",
    "RunStarted",
    "RunStatusChecked",
    "Spend",
    "State",
    "StateChanged",
    "Subscription",
    "ToolExecuted",
    "ToolOutputsSubmitted",
    "Transition",
    "Trigger",
    "Usage",
    "UsageReported",
    "UserSide",
    "allowed_triggers",
    "create_mediator",
    "define_topics",
    "destination",
    "format_usd",
    "mediator_factory",
    "next_state",
    "publish",
    "subscribe",
]
