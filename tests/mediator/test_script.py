"""The interaction script as data: its shape, its helpers and the seed's invariants."""

from __future__ import annotations

import dataclasses

import pytest

from mediator.script import (
    DOTTED,
    SCRIPT,
    TERMINAL_STATES,
    State,
    Trigger,
    allowed_triggers,
    destination,
    next_state,
)
from tests.mediator.support import path_to

NON_TERMINAL = frozenset(State) - TERMINAL_STATES


def test_state_and_trigger_values_are_the_seed_names() -> None:
    assert [s.value for s in State] == [
        "new",
        "ready",
        "started",
        "running",
        "requires_action",
        "awaiting_approval",
        "tools_executed",
        "tool_outputs_submitted",
        "completed",
        "failed",
        "cancelled",
    ]
    assert [t.value for t in Trigger] == [
        "set_user_message",
        "started",
        "heartbeat",
        "action_required",
        "approval_requested",
        "approved",
        "rejected",
        "partially_approved",
        "tools_executed",
        "tool_outputs_submitted",
        "assistant_message_retrieved",
        "failed",
        "cancelled",
    ]


def test_every_trigger_has_exactly_one_row_in_table_order() -> None:
    assert [row.trigger for row in SCRIPT] == list(Trigger)


def test_transition_rows_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SCRIPT[0].dest = State.FAILED  # type: ignore[misc]


def test_terminal_states_are_completed_failed_cancelled() -> None:
    assert frozenset({State.COMPLETED, State.FAILED, State.CANCELLED}) == TERMINAL_STATES


@pytest.mark.parametrize("trigger", [Trigger.FAILED, Trigger.CANCELLED])
def test_failed_and_cancelled_leave_every_non_terminal_state_including_new(
    trigger: Trigger,
) -> None:
    assert {s for s in State if next_state(s, trigger) is not None} == NON_TERMINAL
    assert State.NEW in NON_TERMINAL


@pytest.mark.parametrize("state", sorted(TERMINAL_STATES))
def test_terminal_states_only_exit_via_set_user_message(state: State) -> None:
    assert allowed_triggers(state) == {Trigger.SET_USER_MESSAGE}
    assert next_state(state, Trigger.SET_USER_MESSAGE) is State.READY


def test_next_state_and_allowed_triggers_agree_with_the_rows() -> None:
    for state in State:
        for trigger in Trigger:
            rows = [r for r in SCRIPT if r.trigger is trigger and state in r.sources]
            expected = rows[0].dest if rows else None
            assert next_state(state, trigger) is expected
            assert (trigger in allowed_triggers(state)) is (expected is not None)


def test_each_trigger_has_one_destination_wherever_it_is_fired() -> None:
    for row in SCRIPT:
        assert destination(row.trigger) is row.dest
        assert {next_state(s, row.trigger) for s in row.sources} == {row.dest}


def test_dotted_edges_are_the_four_ways_around_a_missed_running_state() -> None:
    assert len(DOTTED) == 4
    for source, trigger in DOTTED:
        assert source in {State.STARTED, State.TOOL_OUTPUTS_SUBMITTED}
        assert next_state(source, trigger) in {State.REQUIRES_ACTION, State.COMPLETED}
        # The same destination is also reachable the long way, through running.
        assert next_state(State.RUNNING, trigger) is next_state(source, trigger)


def test_every_state_is_reachable_from_new() -> None:
    for state in State:
        path = path_to(state)
        current = State.NEW
        for trigger in path:
            nxt = next_state(current, trigger)
            assert nxt is not None
            current = nxt
        assert current is state


def test_every_non_terminal_state_can_still_end_the_exchange() -> None:
    for state in NON_TERMINAL:
        assert {Trigger.FAILED, Trigger.CANCELLED} <= allowed_triggers(state)
