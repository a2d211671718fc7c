"""Approval in the script, on both mediators: who waits, what is published, how it ends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

from mediator import bus
from mediator.approvals import DECLINED, ApprovalDecision, ApprovalRequest, refusal
from mediator.errors import ApprovalNotPendingError, InvalidTransitionError
from mediator.events import (
    ApprovalGiven,
    ApprovalRejected,
    ApprovalRequested,
    MediatorEvent,
    StateChanged,
    ToolExecuted,
)
from mediator.script import State, Trigger
from mediator.state_machine import MediatorStateMachine
from tests.mediator.support import CALLS, Harness
from tools.types import ToolCall

WAIT_S = 30.0

PARALLEL = (
    *CALLS,  # get_stock_price (free) and buy_or_sell (AAPL)
    ToolCall(id="call_3", name="buy_or_sell", arguments='{"symbol": "TSLA", "price": 250.0}'),
)


async def _until(condition: Callable[[], bool]) -> None:
    """Let the loop run until `condition` holds (the fakes have nothing to await on)."""
    async with asyncio.timeout(WAIT_S):
        while not condition():  # noqa: ASYNC110 (plain attributes of fakes, no event to wait on)
            await asyncio.sleep(0)


async def _until_pending(harness: Harness, count: int) -> tuple[ApprovalRequest, ...]:
    await _until(lambda: len(harness.mediator.pending_approvals) >= count)
    return harness.mediator.pending_approvals


def _triggers(events: list[MediatorEvent]) -> list[Trigger]:
    return [e.trigger for e in events if isinstance(e, StateChanged)]


async def test_free_calls_run_at_once_and_mixed_answers_end_partially_approved(
    harness: Harness,
) -> None:
    harness.user.needs_approval = {"buy_or_sell": "orders need a person"}
    await harness.park(State.RUNNING)
    action = asyncio.ensure_future(harness.mediator.action_required(PARALLEL))
    pending = await _until_pending(harness, 2)
    assert [r.call.id for r in pending] == ["call_2", "call_3"]
    assert harness.mediator.state is State.AWAITING_APPROVAL
    # The free call runs while the person decides; the gated ones wait.
    await _until(lambda: ("execute_tools", (CALLS[0],)) in harness.user.calls)
    assert [c for c in harness.user.calls if c[0] == "execute_tools"] == [
        ("execute_tools", (CALLS[0],))
    ]
    assert ("deadline_paused", None) in harness.assistant.calls
    harness.mediator.approve("call_2", who="alice")
    harness.mediator.reject("call_3", who="alice", reason="too risky")
    results = await asyncio.wait_for(action, WAIT_S)

    assert [r.call_id for r in results] == ["call_1", "call_2", "call_3"]
    assert not results[1].is_error
    assert results[2].error_type == DECLINED
    assert (
        "declined this call to buy_or_sell: too risky"
        in json.loads(results[2].output)["error"]["message"]
    )
    assert _triggers(harness.events) == [
        Trigger.ACTION_REQUIRED,
        Trigger.APPROVAL_REQUESTED,
        Trigger.PARTIALLY_APPROVED,
    ]
    asked = [e for e in harness.events if isinstance(e, ApprovalRequested)]
    assert [(e.call.id, e.why, e.arguments) for e in asked] == [
        ("call_2", "orders need a person", PARALLEL[1].arguments),
        ("call_3", "orders need a person", PARALLEL[2].arguments),
    ]
    given = next(e for e in harness.events if isinstance(e, ApprovalGiven))
    rejected = next(e for e in harness.events if isinstance(e, ApprovalRejected))
    assert (given.call.id, given.who, given.state) == ("call_2", "alice", State.AWAITING_APPROVAL)
    assert (rejected.call.id, rejected.reason) == ("call_3", "too risky")
    assert str(rejected) == (
        "Approval: alice rejected buy_or_sell(symbol=TSLA, price=250.0): too risky"
    )
    assert [e.call.id for e in harness.events if isinstance(e, ToolExecuted)] == [
        "call_1",
        "call_2",
        "call_3",
    ]
    assert harness.mediator.pending_approvals == ()


@pytest.mark.parametrize(
    ("answers", "trigger"),
    [((True, True), Trigger.APPROVED), ((False, False), Trigger.REJECTED)],
)
async def test_all_approved_or_all_rejected_name_the_trigger(
    harness: Harness, answers: tuple[bool, bool], trigger: Trigger
) -> None:
    harness.user.needs_approval = {"buy_or_sell": "why", "get_stock_price": "why"}
    await harness.park(State.RUNNING)
    action = asyncio.ensure_future(harness.mediator.action_required(CALLS))
    await _until_pending(harness, 2)
    for call, yes in zip(CALLS, answers, strict=True):
        (harness.mediator.approve if yes else harness.mediator.reject)(call.id)
    await asyncio.wait_for(action, WAIT_S)
    assert _triggers(harness.events)[-1] is trigger
    assert harness.mediator.state is State.TOOLS_EXECUTED


async def test_nobody_answering_rejects_with_the_timeout_as_reason(harness: Harness) -> None:
    harness.user.needs_approval = {"buy_or_sell": "why"}
    harness.user.approval_timeout_s = 0.05  # the timeout itself is what is tested
    await harness.park(State.RUNNING)
    results = await asyncio.wait_for(harness.mediator.action_required(CALLS), WAIT_S)
    rejected = next(e for e in harness.events if isinstance(e, ApprovalRejected))
    assert rejected.who == "timeout"
    assert rejected.reason == "nobody answered within the approval timeout of 0.05 s"
    assert results[1].error_type == DECLINED
    assert "Nobody approved this call to buy_or_sell in time" in results[1].output
    assert _triggers(harness.events)[-1] is Trigger.REJECTED


async def test_a_listener_may_answer_and_it_takes_effect_after_the_event(
    harness: Harness,
) -> None:
    harness.user.needs_approval = {"buy_or_sell": "why"}
    await harness.park(State.RUNNING)

    def approve_at_once(event: MediatorEvent) -> None:
        if isinstance(event, ApprovalRequested):
            harness.mediator.approve(event.call.id, who="policy bot")

    with bus.subscribe(approve_at_once, conversation_id=harness.conversation_id):
        await asyncio.wait_for(harness.mediator.action_required(CALLS), WAIT_S)
    kinds = [type(e).__name__ for e in harness.events]
    assert kinds.index("ApprovalRequested") < kinds.index("ApprovalGiven")
    assert _triggers(harness.events)[-1] is Trigger.APPROVED


async def test_an_answer_known_beforehand_is_applied_without_waiting(harness: Harness) -> None:
    harness.user.needs_approval = {"buy_or_sell": "why"}
    await harness.park(State.RUNNING)
    early = ApprovalDecision("call_2", False, who="bob", reason="said so before the restart")

    async def decided(calls: object) -> list[ApprovalRequest]:
        return [ApprovalRequest(CALLS[1], "why", early)]

    harness.user.approvals_needed = decided  # type: ignore[method-assign]
    results = await asyncio.wait_for(harness.mediator.action_required(CALLS), WAIT_S)
    assert results[1] == refusal(CALLS[1], early)
    rejected = next(e for e in harness.events if isinstance(e, ApprovalRejected))
    assert (rejected.who, rejected.at) == ("bob", early.at)


async def test_answering_a_call_that_waits_for_nothing_is_a_clear_error(harness: Harness) -> None:
    with pytest.raises(ApprovalNotPendingError, match="no approval is pending for tool call 'x'"):
        harness.mediator.approve("x")
    with pytest.raises(ApprovalNotPendingError):
        harness.mediator.reject("x", reason="no")
    assert harness.events == []


async def test_cancelling_while_waiting_leaves_nothing_pending(harness: Harness) -> None:
    harness.user.needs_approval = {"buy_or_sell": "why"}
    await harness.park(State.RUNNING)
    action = asyncio.ensure_future(harness.mediator.action_required(PARALLEL))
    await _until_pending(harness, 2)
    action.cancel()
    with pytest.raises(asyncio.CancelledError):
        await action
    assert harness.mediator.pending_approvals == ()
    assert harness.mediator.state is State.AWAITING_APPROVAL  # `cancelled` is fired next
    with pytest.raises(ApprovalNotPendingError):
        harness.mediator.approve("call_2")


async def test_the_state_machine_refuses_a_decision_outside_awaiting_approval(
    make_harness: object,
) -> None:
    harness = make_harness(MediatorStateMachine)  # type: ignore[operator]
    await harness.park(State.REQUIRES_ACTION)
    decided = [ApprovalDecision(c.id, True) for c in CALLS]
    with pytest.raises(InvalidTransitionError):
        harness.mediator.tools_executed(
            CALLS, [refusal(c, decided[0]) for c in CALLS], decisions=decided
        )
