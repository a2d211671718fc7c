"""Both mediators through one suite: every row, every forbidden pair, events and routing."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypedDict

import pytest

from mediator import bus
from mediator.base import Mediator
from mediator.basic import MediatorBasic
from mediator.errors import (
    ExchangeCancelledError,
    ExchangeFailedError,
    InvalidTransitionError,
    MediatorError,
)
from mediator.events import (
    ActionRequired,
    ExchangeCancelled,
    ExchangeFailed,
    MediatorEvent,
    MessageDelta,
    MessageRetrieved,
    MessageSent,
    RunStarted,
    RunStatusChecked,
    StateChanged,
    ToolExecuted,
    ToolOutputsSubmitted,
)
from mediator.script import SCRIPT, State, Trigger, destination, next_state
from mediator.state_machine import MediatorStateMachine
from tests.mediator.support import (
    CALLS,
    MEDIATOR_CLASSES,
    RESULTS,
    FakeAssistant,
    FakeUser,
    Harness,
    fire,
    normalised,
)
from tools.types import ToolCall, ToolResult

ROWS = [(source, row.trigger) for row in SCRIPT for source in sorted(row.sources)]
FORBIDDEN = [(s, t) for s in State for t in Trigger if next_state(s, t) is None]
MakeHarness = Callable[[type[Mediator]], Harness]


class Ids(TypedDict):
    conversation_id: str | None
    run_id: str | None


def _final_state(source: State, trigger: Trigger) -> State:
    """Where the mediator rests after the trigger's method returns (Basic: any pair)."""
    dest = next_state(source, trigger) or destination(trigger)
    return State.TOOLS_EXECUTED if trigger is Trigger.ACTION_REQUIRED else dest


def test_rows_and_forbidden_pairs_cover_every_state_trigger_pair() -> None:
    assert len(ROWS) + len(FORBIDDEN) == len(State) * len(Trigger)
    assert len(ROWS) == 36


@pytest.mark.parametrize(("source", "trigger"), ROWS, ids=[f"{s}-{t}" for s, t in ROWS])
async def test_every_row_of_the_script_moves_both_mediators(
    harness: Harness, source: State, trigger: Trigger
) -> None:
    await harness.park(source)
    await fire(harness.mediator, trigger)
    dest = next_state(source, trigger)
    changes = [e for e in harness.events if isinstance(e, StateChanged)]
    if dest is source:  # heartbeat while running: nothing changed, nothing announced
        assert changes == []
        assert [type(e) for e in harness.events] == [RunStatusChecked]
    else:
        first = changes[0]
        assert (first.previous, first.trigger, first.state) == (source, trigger, dest)
        assert harness.events[0] is first
    assert harness.mediator.state is _final_state(source, trigger)


@pytest.mark.parametrize(("state", "trigger"), FORBIDDEN, ids=[f"{s}-{t}" for s, t in FORBIDDEN])
async def test_forbidden_pair_raises_on_state_machine_and_changes_nothing(
    make_harness: MakeHarness, state: State, trigger: Trigger
) -> None:
    harness = make_harness(MediatorStateMachine)
    await harness.park(state)
    with pytest.raises(InvalidTransitionError) as caught:
        await fire(harness.mediator, trigger)
    assert (caught.value.state, caught.value.trigger) == (state, trigger)
    assert repr(trigger.value) in str(caught.value)
    assert harness.mediator.state is state
    assert harness.events == []
    assert harness.user.calls == harness.assistant.calls == []


@pytest.mark.parametrize(("state", "trigger"), FORBIDDEN, ids=[f"{s}-{t}" for s, t in FORBIDDEN])
async def test_forbidden_pair_is_accepted_by_basic(
    make_harness: MakeHarness, state: State, trigger: Trigger
) -> None:
    harness = make_harness(MediatorBasic)
    await harness.park(state)
    await fire(harness.mediator, trigger)
    assert harness.mediator.state is _final_state(state, trigger)
    dest = destination(trigger)
    if dest is not state:
        first = harness.events[0]
        assert isinstance(first, StateChanged)
        assert (first.previous, first.trigger, first.state) == (state, trigger, dest)


def test_invalid_transition_error_names_what_is_allowed() -> None:
    error = InvalidTransitionError(State.NEW, Trigger.STARTED)
    assert str(error) == (
        "trigger 'started' is not allowed in state 'new' "
        "(allowed there: cancelled, failed, set_user_message)"
    )
    assert isinstance(error, MediatorError)


async def _full_exchange(mediator: Mediator) -> None:
    mediator.set_user_message("What is AAPL at?")
    mediator.started("run_1")
    mediator.heartbeat("queued")
    mediator.heartbeat("in_progress")
    results = await mediator.action_required(CALLS)
    mediator.tool_outputs_submitted(results)
    mediator.message_delta("AAPL is")
    mediator.assistant_message_retrieved("AAPL is at 190.50.")


async def test_event_order_and_payloads_of_a_full_exchange(harness: Harness) -> None:
    await _full_exchange(harness.mediator)
    conv = harness.conversation_id
    ids: Ids = {"conversation_id": conv, "run_id": "run_1"}

    def changed(
        previous: State, state: State, trigger: Trigger, run: str | None = "run_1"
    ) -> StateChanged:
        return StateChanged(
            conversation_id=conv,
            run_id=run,
            state=state,
            previous=previous,
            trigger=trigger,
        )

    expected: list[MediatorEvent] = [
        changed(State.NEW, State.READY, Trigger.SET_USER_MESSAGE, run=None),
        MessageSent(conversation_id=conv, run_id=None, state=State.READY, text="What is AAPL at?"),
        changed(State.READY, State.STARTED, Trigger.STARTED),
        RunStarted(**ids, state=State.STARTED),
        changed(State.STARTED, State.RUNNING, Trigger.HEARTBEAT),
        RunStatusChecked(**ids, state=State.RUNNING, status="queued"),
        RunStatusChecked(**ids, state=State.RUNNING, status="in_progress"),
        changed(State.RUNNING, State.REQUIRES_ACTION, Trigger.ACTION_REQUIRED),
        ActionRequired(**ids, state=State.REQUIRES_ACTION, tool_calls=CALLS),
        changed(State.REQUIRES_ACTION, State.TOOLS_EXECUTED, Trigger.TOOLS_EXECUTED),
        ToolExecuted(**ids, state=State.TOOLS_EXECUTED, call=CALLS[0], result=RESULTS[0]),
        ToolExecuted(**ids, state=State.TOOLS_EXECUTED, call=CALLS[1], result=RESULTS[1]),
        changed(State.TOOLS_EXECUTED, State.TOOL_OUTPUTS_SUBMITTED, Trigger.TOOL_OUTPUTS_SUBMITTED),
        ToolOutputsSubmitted(**ids, state=State.TOOL_OUTPUTS_SUBMITTED, results=RESULTS),
        MessageDelta(**ids, state=State.TOOL_OUTPUTS_SUBMITTED, delta="AAPL is"),
        changed(State.TOOL_OUTPUTS_SUBMITTED, State.COMPLETED, Trigger.ASSISTANT_MESSAGE_RETRIEVED),
        MessageRetrieved(**ids, state=State.COMPLETED, text="AAPL is at 190.50."),
    ]
    assert [normalised(e) for e in harness.events] == [normalised(e) for e in expected]
    assert all(e.conversation_id == conv for e in harness.events)


async def test_both_mediators_publish_identical_events_on_the_same_sequence(
    make_harness: MakeHarness,
) -> None:
    runs = []
    for cls in MEDIATOR_CLASSES:
        harness = make_harness(cls)
        await _full_exchange(harness.mediator)
        harness.mediator.set_user_message("and MSFT?")
        harness.mediator.started("run_2")
        harness.mediator.failed(ExchangeFailedError("the run expired", code="expired"))
        harness.mediator.set_user_message("again")
        harness.mediator.cancelled(ExchangeCancelledError("stopped"))
        runs.append((harness.mediator.state, [normalised(e) for e in harness.events]))
    assert runs[0] == runs[1]


async def test_set_user_message_routes_to_the_assistant_after_publishing(
    harness: Harness,
) -> None:
    order: list[str] = []
    subscription = bus.subscribe(
        lambda e: order.append(type(e).__name__), conversation_id=harness.conversation_id
    )

    class Assistant(FakeAssistant):
        def start_exchange(self, exchange_id: str, text: str) -> None:
            order.append(f"start_exchange:{text}")

    harness.mediator.attach(harness.user, Assistant())
    harness.mediator.set_user_message("hello")
    subscription.close()
    assert order == ["StateChanged", "MessageSent", "start_exchange:hello"]
    assert harness.mediator.run_id is None


async def test_set_user_message_starts_a_new_exchange_and_forgets_the_old_run(
    harness: Harness,
) -> None:
    await harness.park(State.COMPLETED)
    assert harness.mediator.run_id == "run_1"
    harness.mediator.set_user_message("next")
    assert harness.mediator.run_id is None
    assert harness.assistant.calls == [("start_exchange", "next")]
    harness.mediator.started("run_2")
    assert harness.mediator.run_id == "run_2"
    assert harness.events[-1].run_id == "run_2"


async def test_action_required_routes_calls_to_the_user_and_returns_results_in_call_order(
    harness: Harness,
) -> None:
    await harness.park(State.RUNNING)
    results = await harness.mediator.action_required(list(CALLS))
    assert results == RESULTS
    assert harness.user.calls == [("execute_tools", CALLS)]
    assert harness.assistant.calls == []
    tool_events = [e for e in harness.events if isinstance(e, ToolExecuted)]
    assert [(e.call, e.result) for e in tool_events] == list(zip(CALLS, RESULTS, strict=True))


async def test_tool_exception_propagates_and_leaves_requires_action(harness: Harness) -> None:
    await harness.park(State.RUNNING)
    harness.user.fail_with = RuntimeError("registry crashed")
    with pytest.raises(RuntimeError, match="registry crashed"):
        await harness.mediator.action_required(CALLS)
    assert harness.mediator.state is State.REQUIRES_ACTION
    assert [type(e) for e in harness.events] == [StateChanged, ActionRequired]


async def test_mismatched_tool_results_are_refused_before_any_transition(
    harness: Harness,
) -> None:
    await harness.park(State.REQUIRES_ACTION)
    with pytest.raises(ValueError, match="missing \\['call_2'\\]"):
        harness.mediator.tools_executed(CALLS, RESULTS[:1])
    with pytest.raises(ValueError, match="two results"):
        harness.mediator.tools_executed(CALLS, RESULTS + RESULTS[:1])
    with pytest.raises(ValueError, match="unexpected"):
        harness.mediator.tools_executed(CALLS[:1], RESULTS)
    assert harness.mediator.state is State.REQUIRES_ACTION
    assert harness.events == []


async def test_reply_is_delivered_to_the_user_after_the_event(harness: Harness) -> None:
    await harness.park(State.RUNNING)
    harness.mediator.assistant_message_retrieved("AAPL is at 190.50.")
    assert harness.user.calls == [("deliver_reply", "AAPL is at 190.50.")]
    assert [type(e) for e in harness.events] == [StateChanged, MessageRetrieved]


@pytest.mark.parametrize("state", [State.NEW, State.READY, State.REQUIRES_ACTION])
async def test_failure_is_published_and_delivered_to_the_user(
    harness: Harness, state: State
) -> None:
    await harness.park(state)
    error = ExchangeFailedError("the run failed: rate limited", run_id="r", code="rate_limit")
    harness.mediator.failed(error)
    assert harness.mediator.state is State.FAILED
    assert harness.user.calls == [("deliver_error", error)]
    event = harness.events[-1]
    assert isinstance(event, ExchangeFailed)
    assert (event.error, event.code) == ("the run failed: rate limited", "rate_limit")


async def test_cancellation_is_published_and_delivered_to_the_user(harness: Harness) -> None:
    await harness.park(State.TOOL_OUTPUTS_SUBMITTED)
    error = ExchangeCancelledError("the user stopped it")
    harness.mediator.cancelled(error)
    assert harness.mediator.state is State.CANCELLED
    assert harness.user.calls == [("deliver_error", error)]
    assert isinstance(harness.events[-1], ExchangeCancelled)
    assert str(harness.events[-1]) == "Cancelled: the user stopped it"


async def test_message_delta_publishes_without_changing_state(harness: Harness) -> None:
    await harness.park(State.RUNNING)
    harness.mediator.message_delta("AAPL")
    assert harness.mediator.state is State.RUNNING
    assert [type(e) for e in harness.events] == [MessageDelta]


async def test_routing_before_attach_is_refused_without_a_transition(
    mediator_cls: type[Mediator],
) -> None:
    mediator = mediator_cls()
    with pytest.raises(MediatorError, match="attach"):
        mediator.set_user_message("hi")
    with pytest.raises(MediatorError, match="attach"):
        mediator.failed(ExchangeFailedError("x"))
    assert mediator.state is State.NEW


def test_conversation_is_bound_once(mediator_cls: type[Mediator]) -> None:
    mediator = mediator_cls()
    assert mediator.conversation_id is None
    mediator.bind_conversation("thread_1")
    mediator.bind_conversation("thread_1")
    assert mediator.conversation_id == "thread_1"
    with pytest.raises(MediatorError, match="cannot rebind"):
        mediator.bind_conversation("thread_2")
    with pytest.raises(ValueError, match="non-empty"):
        mediator_cls().bind_conversation("")
    assert "thread_1" in repr(mediator)


async def test_two_mediators_two_conversations_each_listener_sees_only_its_own(
    make_harness: MakeHarness,
) -> None:
    first = make_harness(MediatorBasic)
    second = make_harness(MediatorStateMachine)
    first.mediator.set_user_message("one")
    second.mediator.set_user_message("two")
    first.mediator.started("run_a")
    second.mediator.failed(ExchangeFailedError("nope"))
    assert {e.conversation_id for e in first.events} == {first.conversation_id}
    assert {e.conversation_id for e in second.events} == {second.conversation_id}
    assert [type(e) for e in first.events] == [StateChanged, MessageSent, StateChanged, RunStarted]
    assert [type(e) for e in second.events] == [
        StateChanged,
        MessageSent,
        StateChanged,
        ExchangeFailed,
    ]


async def test_a_raising_listener_does_not_break_the_exchange(harness: Harness) -> None:
    def explode(event: MediatorEvent) -> None:
        raise RuntimeError("listener bug")

    with bus.subscribe(explode, conversation_id=harness.conversation_id):
        await _full_exchange(harness.mediator)
    assert harness.mediator.state is State.COMPLETED
    assert harness.user.calls[-1] == ("deliver_reply", "AAPL is at 190.50.")
    assert len(harness.events) == 17


async def test_a_listener_cannot_fire_triggers_in_the_middle_of_publishing(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    def meddle(event: MediatorEvent) -> None:
        harness.mediator.started("run_x")

    with bus.subscribe(meddle, topics=["sentMessage"], conversation_id=harness.conversation_id):
        harness.mediator.set_user_message("hi")
    assert harness.mediator.state is State.READY
    assert harness.mediator.run_id is None
    refused = [r.exc_info[1] for r in caplog.records if r.exc_info and r.name == "mediator.bus"]
    assert len(refused) == 1
    assert isinstance(refused[0], MediatorError)
    assert "called from an event listener" in str(refused[0])


def test_user_and_assistant_fakes_satisfy_the_protocols() -> None:
    from mediator.participants import (
        ApprovingUserSide,
        AssistantSide,
        SuspendableAssistantSide,
        UserSide,
    )

    assert isinstance(FakeUser(), ApprovingUserSide)
    assert isinstance(FakeAssistant(), SuspendableAssistantSide)
    assert not isinstance(FakeAssistant(), UserSide)
    assert isinstance(FakeUser(), UserSide)
    assert isinstance(FakeAssistant(), AssistantSide)


async def test_a_user_side_without_approval_members_runs_every_call_at_once(
    harness: Harness,
) -> None:
    class Plain:  # a UserSide written before approvals existed
        def __init__(self) -> None:
            self.ran: list[str] = []

        async def execute_tools(self, calls: tuple[ToolCall, ...]) -> list[ToolResult]:
            self.ran.extend(c.id for c in calls)
            return [ToolResult(c.id, c.name, "{}") for c in calls]

        def deliver_reply(self, text: str) -> None: ...

        def deliver_error(self, error: object) -> None: ...

    plain = Plain()
    harness.mediator.attach(plain, harness.assistant)  # type: ignore[arg-type]
    await harness.park(State.RUNNING)
    await harness.mediator.action_required(CALLS)
    assert plain.ran == [c.id for c in CALLS]
    assert harness.mediator.state is State.TOOLS_EXECUTED


def test_state_machine_is_queued_without_side_doors_and_translates_machine_errors() -> None:
    from transitions import MachineError

    mediator = MediatorStateMachine()
    machine = mediator._machine
    assert machine.has_queue
    assert not machine.auto_transitions
    assert not machine.ignore_invalid_triggers
    assert not any(name.startswith("to_") for name in dir(mediator._model))
    with pytest.raises(InvalidTransitionError) as caught:
        mediator.started("run_1")
    assert isinstance(caught.value.__cause__, MachineError)


async def test_a_listener_cannot_publish_a_delta_in_the_middle_of_publishing(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    def meddle(event: MediatorEvent) -> None:
        harness.mediator.message_delta("sneaky")

    with bus.subscribe(meddle, topics=["sentMessage"], conversation_id=harness.conversation_id):
        harness.mediator.set_user_message("hi")
    assert [type(e) for e in harness.events] == [StateChanged, MessageSent]
    harness.mediator.message_delta("fine afterwards")
    assert isinstance(harness.events[-1], MessageDelta)


@pytest.mark.parametrize("kind", ["basic", "stateMachine"])
def test_each_message_mints_an_exchange_id_carried_and_numbered_on_every_event(kind: str) -> None:
    from mediator import create_mediator, subscribe
    from tests.mediator.support import FakeAssistant, FakeUser, fire_sync_exchange

    mediator = create_mediator(kind, conversation_id="thread_1")
    mediator.attach(FakeUser(), FakeAssistant())
    seen: list[MediatorEvent] = []
    subscription = subscribe(seen.append)
    try:
        first = fire_sync_exchange(mediator)
        second = fire_sync_exchange(mediator)
    finally:
        subscription.close()
    assert first != second
    assert len(first) == len(second) == 32
    assert {e.exchange_id for e in seen} == {first, second}
    for exchange in (first, second):
        mine = [e for e in seen if e.exchange_id == exchange]
        assert [e.seq for e in mine] == list(range(len(mine)))
        assert type(mine[0]).__name__ == "StateChanged"
        assert type(mine[-1]).__name__ == "MessageRetrieved"
    assert mediator.exchange_id == second


@pytest.mark.parametrize("kind", ["basic", "stateMachine"])
def test_resuming_an_exchange_keeps_its_id_sends_no_message_and_numbers_after_the_first_process(
    kind: str,
) -> None:
    from mediator import create_mediator, subscribe
    from mediator.base import RESUMED_SEQ
    from tests.mediator.support import FakeAssistant, FakeUser

    mediator = create_mediator(kind, conversation_id="thread_1")
    assistant = FakeAssistant()
    mediator.attach(FakeUser(), assistant)
    seen: list[MediatorEvent] = []
    with subscribe(seen.append):
        mediator.resume_exchange("e" * 32, "What is AAPL at?")
    assert assistant.calls == [("resume_exchange", "What is AAPL at?")]
    assert [type(e).__name__ for e in seen] == ["StateChanged"]
    assert seen[0].exchange_id == "e" * 32
    assert seen[0].seq == RESUMED_SEQ
    assert mediator.state is State.READY
