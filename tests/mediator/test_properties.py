"""Property tests: random trigger sequences drive both mediators side by side."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediator.basic import MediatorBasic
from mediator.errors import ExchangeFailedError, InvalidTransitionError
from mediator.events import StateChanged
from mediator.script import (
    TERMINAL_STATES,
    State,
    Trigger,
    allowed_triggers,
    destination,
    next_state,
)
from mediator.state_machine import MediatorStateMachine
from tests.mediator.support import Harness, fire, normalised

STATUSES = st.sampled_from(["queued", "in_progress", "cancelling", "requires_action", "weird"])
ERROR_CODES = st.sampled_from([None, "server_error", "rate_limit_exceeded", "expired"])


def _expected_after(state: State, trigger: Trigger) -> State | None:
    """Where the state machine rests after the trigger's method, or None if it must refuse."""
    dest = next_state(state, trigger)
    if dest is not None and trigger is Trigger.ACTION_REQUIRED:
        return next_state(dest, Trigger.TOOLS_EXECUTED)
    return dest


async def _fire(harness: Harness, trigger: Trigger, status: str, code: str | None) -> None:
    if trigger is Trigger.FAILED:
        harness.mediator.failed(ExchangeFailedError("the run failed", code=code))
    else:
        await fire(harness.mediator, trigger, status=status)


async def _drive(data: st.DataObject) -> None:
    basic, machine = Harness(MediatorBasic), Harness(MediatorStateMachine)
    try:
        agreeing = True
        for _ in range(data.draw(st.integers(min_value=1, max_value=40), label="length")):
            state = machine.mediator.state
            if data.draw(st.integers(0, 9), label="bias") < 8:
                trigger = data.draw(st.sampled_from(sorted(allowed_triggers(state))))
            else:
                trigger = data.draw(st.sampled_from(list(Trigger)))
            status, code = data.draw(STATUSES), data.draw(ERROR_CODES)
            expected = _expected_after(state, trigger)
            machine_events_before = len(machine.events)
            if expected is None:
                agreeing = False
                with pytest.raises(InvalidTransitionError) as refused:
                    await _fire(machine, trigger, status, code)
                assert (refused.value.state, refused.value.trigger) == (state, trigger)
                assert machine.mediator.state is state
                assert len(machine.events) == machine_events_before
            else:
                await _fire(machine, trigger, status, code)
                assert machine.mediator.state is expected
            assert isinstance(machine.mediator.state, State)
            if state in TERMINAL_STATES and machine.mediator.state is not state:
                assert trigger is Trigger.SET_USER_MESSAGE
            # The basic mediator takes every trigger, allowed or not.
            await _fire(basic, trigger, status, code)
            basic_rests_in = (
                State.TOOLS_EXECUTED if trigger is Trigger.ACTION_REQUIRED else destination(trigger)
            )
            assert basic.mediator.state is basic_rests_in
            if agreeing:
                assert basic.mediator.state is machine.mediator.state
                assert [normalised(e) for e in basic.events] == [
                    normalised(e) for e in machine.events
                ]
        for event in machine.events:
            assert isinstance(event.state, State)
            if isinstance(event, StateChanged) and event.previous in TERMINAL_STATES:
                assert event.trigger is Trigger.SET_USER_MESSAGE
    finally:
        basic.close()
        machine.close()


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_random_trigger_sequences_keep_both_mediators_on_script(data: st.DataObject) -> None:
    asyncio.run(_drive(data))
