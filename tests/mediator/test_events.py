"""Event types: immutable, UTC, one topic each, and their one-line human form."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from typing import TypedDict

import pytest

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
from mediator.script import State, Trigger
from mediator.usage import Usage
from tests.mediator.support import CALLS, RESULTS
from tools.types import ToolResult


class _Ids(TypedDict):
    conversation_id: str | None
    run_id: str | None


IDS: _Ids = {"conversation_id": "thread_1", "run_id": "run_1"}


def test_seed_topics_are_kept_and_every_topic_is_unique() -> None:
    assert {"sentMessage", "executedTool", "retrievedMessage", "error"} <= set(ALL_TOPICS)
    assert len(set(ALL_TOPICS)) == len(ALL_TOPICS) == len(EVENT_TYPES)
    assert {cls.topic: cls for cls in EVENT_TYPES} == {
        "boundConversation": ConversationBound,
        "stateChanged": StateChanged,
        "sentMessage": MessageSent,
        "startedRun": RunStarted,
        "checkedRunStatus": RunStatusChecked,
        "requiredAction": ActionRequired,
        "requestedApproval": ApprovalRequested,
        "gaveApproval": ApprovalGiven,
        "rejectedApproval": ApprovalRejected,
        "executedTool": ToolExecuted,
        "submittedToolOutputs": ToolOutputsSubmitted,
        "retrievedMessage": MessageRetrieved,
        "messageDelta": MessageDelta,
        "reconciled": Reconciled,
        "reportedUsage": UsageReported,
        "error": ExchangeFailed,
        "cancelled": ExchangeCancelled,
    }


def test_events_carry_only_the_listed_fields() -> None:
    base = ["conversation_id", "run_id", "state", "at", "session_id", "exchange_id", "seq"]
    extra = {
        ConversationBound: ["assistant_id", "backend"],
        StateChanged: ["previous", "trigger"],
        MessageSent: ["text"],
        RunStarted: ["model"],
        RunStatusChecked: ["status"],
        ActionRequired: ["tool_calls"],
        ApprovalRequested: ["call", "why"],
        ApprovalGiven: ["call", "who", "reason"],
        ApprovalRejected: ["call", "who", "reason"],
        ToolExecuted: ["call", "result"],
        ToolOutputsSubmitted: ["results"],
        MessageRetrieved: ["text"],
        MessageDelta: ["delta"],
        Reconciled: ["request", "error", "found"],
        UsageReported: ["model", "usage", "cost_usd", "whole_run"],
        ExchangeFailed: ["error", "code"],
        ExchangeCancelled: ["reason"],
    }
    for cls in EVENT_TYPES:
        assert [f.name for f in dataclasses.fields(cls)] == base + extra[cls]


def test_events_are_frozen_and_keyword_only() -> None:
    event = MessageSent(**IDS, state=State.READY, text="hi")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.text = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        MessageSent("thread_1", "run_1", State.READY, text="hi")  # type: ignore[call-arg]


def test_timestamp_defaults_to_now_in_utc() -> None:
    before = datetime.now(UTC)
    event = RunStarted(**IDS, state=State.STARTED)
    assert event.at.tzinfo is UTC
    assert before <= event.at <= datetime.now(UTC)


def test_naive_timestamp_is_refused_and_aware_one_normalised_to_utc() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        RunStarted(**IDS, state=State.STARTED, at=datetime(2025, 1, 1, 12))  # noqa: DTZ001
    paris = timezone(timedelta(hours=1))
    event = RunStarted(**IDS, state=State.STARTED, at=datetime(2025, 1, 1, 13, tzinfo=paris))
    assert event.at == datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert event.at.tzinfo is UTC


def test_sequences_are_stored_as_tuples() -> None:
    event = ActionRequired(**IDS, state=State.REQUIRES_ACTION, tool_calls=list(CALLS))  # type: ignore[arg-type]
    assert event.tool_calls == CALLS
    assert isinstance(event.tool_calls, tuple)
    as_list: list[ToolResult] = list(RESULTS)
    submitted = ToolOutputsSubmitted(
        **IDS,
        state=State.TOOL_OUTPUTS_SUBMITTED,
        results=as_list,  # type: ignore[arg-type]
    )
    assert isinstance(submitted.results, tuple)
    hash(submitted)  # immutable all the way down


def test_str_of_each_event_is_a_short_human_line() -> None:
    s = State.RUNNING
    lines = [
        StateChanged(
            **IDS, state=State.READY, previous=State.NEW, trigger=Trigger.SET_USER_MESSAGE
        ),
        MessageSent(**IDS, state=State.READY, text="What is\nAAPL at?"),
        RunStarted(**IDS, state=State.STARTED),
        RunStatusChecked(**IDS, state=s, status="in_progress"),
        ActionRequired(**IDS, state=State.REQUIRES_ACTION, tool_calls=CALLS[:1]),
        ToolExecuted(**IDS, state=State.TOOLS_EXECUTED, call=CALLS[0], result=RESULTS[0]),
        ToolOutputsSubmitted(**IDS, state=State.TOOL_OUTPUTS_SUBMITTED, results=RESULTS),
        MessageRetrieved(**IDS, state=State.COMPLETED, text="AAPL is at 190.50."),
        MessageDelta(**IDS, state=s, delta="AAPL is"),
        UsageReported(**IDS, state=s, model="gpt-4o", usage=Usage(1234, 200, 56), cost_usd=0.0036),
        UsageReported(**IDS, state=s, model="offline-demo", usage=Usage(10, 0, 5, 2)),
        ExchangeFailed(**IDS, state=State.FAILED, error="the run failed", code="server_error"),
        ExchangeCancelled(**IDS, state=State.CANCELLED, reason="the user stopped it"),
    ]
    assert [str(e) for e in lines] == [
        "State: new -> ready (set_user_message)",
        "User: What is AAPL at?",
        "Assistant: started run run_1",
        "Assistant: run run_1 is in_progress",
        "Assistant: requested get_stock_price(symbol=AAPL)",
        "System: called get_stock_price(symbol=AAPL) → for=call_1",
        "System: submitted 2 tool outputs (get_stock_price, buy_or_sell)",
        "Assistant: AAPL is at 190.50.",
        "Assistant (partial): AAPL is",
        "Usage: 1,234 in (200 cached) / 56 out tokens, $0.00360 (gpt-4o)",
        "Usage: 10 in / 5 out (2 reasoning) tokens, no price known (offline-demo)",
        "Error: the run failed [server_error]",
        "Cancelled: the user stopped it",
    ]


def test_str_truncates_long_payloads_and_marks_tool_errors() -> None:
    output = '{"error": {"type": "timeout", "message": "' + "x" * 200 + '"}}'
    failed = ToolResult(
        call_id="call_1", name="get_stock_price", output=output, is_error=True, error_type="timeout"
    )
    line = str(ToolExecuted(**IDS, state=State.TOOLS_EXECUTED, call=CALLS[0], result=failed))
    assert line.startswith("System: called get_stock_price(symbol=AAPL) → failed (timeout): xxx")
    assert line.endswith("…")
    assert len(line) < 150
    long_text = str(MessageRetrieved(**IDS, state=State.COMPLETED, text="word " * 100))
    assert long_text.endswith("…")
    assert len(long_text) == len("Assistant: ") + 120
    assert "\n" not in long_text


def test_failed_event_without_code_has_no_suffix() -> None:
    event = ExchangeFailed(**IDS, state=State.FAILED, error="deadline passed", code=None)
    assert str(event) == "Error: deadline passed"


def test_base_event_declares_the_common_envelope() -> None:
    assert [f.name for f in dataclasses.fields(MediatorEvent)] == [
        "conversation_id",
        "run_id",
        "state",
        "at",
        "session_id",
        "exchange_id",
        "seq",
    ]


def test_every_event_of_a_mediator_carries_its_session_id() -> None:
    from mediator import MediatorBasic, subscribe

    seen: list[object] = []
    mediator = MediatorBasic()
    with subscribe(seen.append):

        class _Assistant:
            def start_exchange(self, exchange_id: str, text: str) -> None:
                pass

        class _User:
            async def execute_tools(self, calls: object) -> tuple[()]:
                return ()

            def deliver_reply(self, text: str) -> None:
                pass

            def deliver_error(self, error: object) -> None:
                pass

        mediator.attach(_User(), _Assistant())
        mediator.set_user_message("before any thread exists")
        mediator.bind_conversation("thread_1")
        mediator.started("run_1")
    assert len(seen) >= 4
    assert {e.session_id for e in seen} == {mediator.session_id}  # type: ignore[attr-defined]
    assert MediatorBasic().session_id != mediator.session_id
