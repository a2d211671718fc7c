"""Fakes and helpers for the mediator tests: fake participants, a harness, trigger drivers."""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from mediator import bus
from mediator.approvals import ApprovalDecision, ApprovalRequest, refusal
from mediator.base import Mediator
from mediator.basic import MediatorBasic
from mediator.errors import ExchangeCancelledError, ExchangeError, ExchangeFailedError
from mediator.events import MediatorEvent
from mediator.script import SCRIPT, State, Trigger
from mediator.state_machine import MediatorStateMachine
from tools.types import ToolCall, ToolResult

MEDIATOR_CLASSES: tuple[type[Mediator], ...] = (MediatorBasic, MediatorStateMachine)

CALLS = (
    ToolCall(id="call_1", name="get_stock_price", arguments='{"symbol": "AAPL"}'),
    ToolCall(id="call_2", name="buy_or_sell", arguments='{"symbol": "AAPL", "price": 190.5}'),
)
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def result_for(call: ToolCall) -> ToolResult:
    return ToolResult(call_id=call.id, name=call.name, output=f'{{"for": "{call.id}"}}')


RESULTS = tuple(result_for(c) for c in CALLS)
REQUESTS = (ApprovalRequest(CALLS[1], "the test asks"),)


class ParkError(Exception):
    """Raised by the fake user side to leave a mediator in `requires_action`."""


class FakeUser:
    """A `UserSide` that records every call; `execute_tools` never suspends."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.fail_with: BaseException | None = None
        self.needs_approval: dict[str, str] = {}  # tool name -> why
        self.approval_timeout_s = 30.0

    async def approvals_needed(self, calls: Sequence[ToolCall]) -> Sequence[ApprovalRequest]:
        return [
            ApprovalRequest(c, self.needs_approval[c.name])
            for c in calls
            if c.name in self.needs_approval
        ]

    async def execute_tools(
        self,
        calls: Sequence[ToolCall],
        decisions: Mapping[str, ApprovalDecision] | None = None,
    ) -> Sequence[ToolResult]:
        self.calls.append(("execute_tools", tuple(calls)))
        if self.fail_with is not None:
            raise self.fail_with
        decided = decisions or {}
        # Reversed on purpose: the mediator must put results back in call order.
        return [
            refusal(c, decided[c.id])
            if c.id in decided and not decided[c.id].approved
            else result_for(c)
            for c in reversed(calls)
        ]

    def deliver_reply(self, text: str) -> None:
        self.calls.append(("deliver_reply", text))

    def deliver_error(self, error: ExchangeError) -> None:
        self.calls.append(("deliver_error", error))


class FakeAssistant:
    """An `AssistantSide` that records the exchanges it was asked to start."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def start_exchange(self, exchange_id: str, text: str) -> None:
        self.calls.append(("start_exchange", text))

    def resume_exchange(self, exchange_id: str, text: str) -> None:
        self.calls.append(("resume_exchange", text))

    async def open_conversation(self) -> str:
        self.calls.append(("open_conversation", None))
        return "thread_fake"

    async def check_assistant(self) -> None:
        self.calls.append(("check_assistant", None))

    async def detach(self) -> None:
        self.calls.append(("detach", None))

    @contextlib.contextmanager
    def deadline_paused(self) -> Iterator[None]:
        self.calls.append(("deadline_paused", None))
        yield

    async def cancel(self) -> None:
        self.calls.append(("cancel", None))

    async def aclose(self) -> None:
        self.calls.append(("aclose", None))

    async def list_run_steps(self) -> list[object]:
        self.calls.append(("list_run_steps", None))
        return []


_SYNC_FIRINGS: dict[Trigger, Callable[[Mediator], object]] = {
    Trigger.SET_USER_MESSAGE: lambda m: m.set_user_message("What is AAPL at?"),
    Trigger.STARTED: lambda m: m.started("run_1"),
    Trigger.APPROVAL_REQUESTED: lambda m: m.approval_requested(REQUESTS),
    Trigger.APPROVED: lambda m: m.tools_executed(CALLS, RESULTS, decisions=_decided(True, True)),
    Trigger.REJECTED: lambda m: m.tools_executed(CALLS, RESULTS, decisions=_decided(False, False)),
    Trigger.PARTIALLY_APPROVED: lambda m: m.tools_executed(
        CALLS, RESULTS, decisions=_decided(True, False)
    ),
    Trigger.TOOLS_EXECUTED: lambda m: m.tools_executed(CALLS, RESULTS),
    Trigger.TOOL_OUTPUTS_SUBMITTED: lambda m: m.tool_outputs_submitted(RESULTS),
    Trigger.ASSISTANT_MESSAGE_RETRIEVED: lambda m: m.assistant_message_retrieved(
        "AAPL is at 190.50."
    ),
    Trigger.FAILED: lambda m: m.failed(ExchangeFailedError("the run failed", code="server_error")),
    Trigger.CANCELLED: lambda m: m.cancelled(ExchangeCancelledError("the user stopped it")),
}


async def fire(mediator: Mediator, trigger: Trigger, *, status: str = "in_progress") -> None:
    """Fire `trigger` through the mediator method that fires it, with stock arguments."""
    if trigger is Trigger.ACTION_REQUIRED:
        await mediator.action_required(CALLS)
    elif trigger is Trigger.HEARTBEAT:
        mediator.heartbeat(status)
    else:
        _SYNC_FIRINGS[trigger](mediator)


def _decided(*answers: bool) -> tuple[ApprovalDecision, ...]:
    return tuple(ApprovalDecision(c.id, a) for c, a in zip(CALLS, answers, strict=True))


def path_to(target: State) -> list[Trigger]:
    """The shortest trigger sequence from `new` to `target` through the script."""
    paths: dict[State, list[Trigger]] = {State.NEW: []}
    queue = deque([State.NEW])
    while queue:
        state = queue.popleft()
        for row in SCRIPT:
            if state in row.sources and row.dest not in paths:
                paths[row.dest] = [*paths[state], row.trigger]
                queue.append(row.dest)
    return paths[target]


def normalised(event: MediatorEvent) -> MediatorEvent:
    """`event` with the fields that legitimately differ between two runs fixed."""
    # The exchange id is random and the numbering is pinned by its own tests
    # (test_exchange_ids): here only the rest of the event is compared.
    return dataclasses.replace(
        event,
        at=EPOCH,
        conversation_id="conv",
        session_id="session",
        exchange_id=None,
        seq=0,
    )


class Harness:
    """One mediator, its fake participants and every event it published."""

    def __init__(self, mediator_cls: type[Mediator]) -> None:
        self.conversation_id = f"conv_{uuid.uuid4().hex}"
        self.mediator = mediator_cls(conversation_id=self.conversation_id)
        self.user = FakeUser()
        self.assistant = FakeAssistant()
        self.mediator.attach(self.user, self.assistant)
        self.events: list[MediatorEvent] = []
        self.subscription = bus.subscribe(self.events.append, conversation_id=self.conversation_id)

    async def park(self, target: State) -> None:
        """Drive the mediator along valid triggers until it rests in `target`."""
        for trigger in path_to(target):
            if trigger is Trigger.ACTION_REQUIRED:
                self.user.fail_with = ParkError()
                with pytest.raises(ParkError):
                    await self.mediator.action_required(CALLS)
                self.user.fail_with = None
            else:
                await fire(self.mediator, trigger)
        assert self.mediator.state is target
        self.events.clear()
        self.user.calls.clear()
        self.assistant.calls.clear()

    def close(self) -> None:
        self.subscription.close()


def fire_sync_exchange(mediator: Mediator) -> str:
    """One exchange without tools, message to reply, fired synchronously; its exchange id."""
    exchange_id = mediator.set_user_message("What is AAPL at?")
    mediator.started(f"run_{exchange_id[:6]}")
    mediator.heartbeat("in_progress")
    mediator.assistant_message_retrieved("AAPL is at 190.50.")
    return exchange_id
