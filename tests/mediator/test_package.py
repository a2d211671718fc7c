"""The package surface: exported names, the factory, the error tree."""

from __future__ import annotations

import subprocess
import sys

import pytest

import mediator
from mediator import (
    ExchangeCancelledError,
    ExchangeError,
    ExchangeFailedError,
    ExchangeTimeoutError,
    InvalidTransitionError,
    MediatorBasic,
    MediatorError,
    MediatorStateMachine,
    create_mediator,
    mediator_factory,
)
from mediator.script import State


def test_exported_names_are_pinned() -> None:
    assert sorted(mediator.__all__) == sorted(
        [
            "ALL_TOPICS",
            "DOTTED",
            "EVENT_TYPES",
            "MEDIATOR_KINDS",
            "SCRIPT",
            "TERMINAL_STATES",
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
            "ToolkitError",
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
    )
    for name in mediator.__all__:
        assert hasattr(mediator, name), name


def test_importing_the_package_subscribes_and_creates_nothing() -> None:
    code = (
        "from pubsub import pub\n"
        "import mediator\n"
        "mgr = pub.getDefaultTopicMgr()\n"
        "assert not any(mgr.getTopic(t, okIfNone=True) for t in mediator.ALL_TOPICS)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


@pytest.mark.parametrize(
    ("value", "cls"),
    [
        ("basic", MediatorBasic),
        ("BASIC", MediatorBasic),
        ("stateMachine", MediatorStateMachine),
        ("statemachine", MediatorStateMachine),
        (" STATEMACHINE ", MediatorStateMachine),
    ],
)
def test_factory_accepts_the_env_values_in_any_case(value: str, cls: type) -> None:
    assert mediator_factory(value) is cls
    created = create_mediator(value, conversation_id="thread_1")
    assert type(created) is cls
    assert created.conversation_id == "thread_1"
    assert created.state is State.NEW


@pytest.mark.parametrize("value", ["", "fancy", "state_machine"])
def test_factory_rejects_unknown_values_naming_the_setting(value: str) -> None:
    with pytest.raises(ValueError, match="MEDIATOR_TYPE") as caught:
        mediator_factory(value)
    assert "'basic'" in str(caught.value)
    assert "'stateMachine'" in str(caught.value)


def test_error_tree() -> None:
    assert issubclass(InvalidTransitionError, MediatorError)
    assert issubclass(ExchangeError, MediatorError)
    for cls in (ExchangeFailedError, ExchangeTimeoutError, ExchangeCancelledError):
        assert issubclass(cls, ExchangeError)
    error = ExchangeFailedError("the run expired", run_id="run_1", status="expired", code="x")
    assert str(error) == "the run expired"
    assert (error.message, error.run_id, error.status, error.code) == (
        "the run expired",
        "run_1",
        "expired",
        "x",
    )
    assert repr(error) == (
        "ExchangeFailedError('the run expired', run_id='run_1', status='expired', code='x')"
    )
