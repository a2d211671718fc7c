"""Polling without a server hint: the first look comes just before the assistant's usual turn
length, then short growing steps; the length is learnt from what the looks saw."""

from __future__ import annotations

import pytest

from proxies import polling
from proxies.policy import ExchangePolicy
from proxies.polling import TurnClock

POLICY = ExchangePolicy(poll_initial_s=0.1, poll_factor=1.5, poll_max_s=2.0)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(polling.time, "monotonic", fake)
    return fake


def test_with_nothing_learnt_the_policy_backoff_is_used(clock: Clock) -> None:
    watch = TurnClock().watch(POLICY)
    assert [watch.next_delay(None) for _ in range(3)] == pytest.approx([0.1, 0.15, 0.225])


def test_a_server_hint_wins_over_what_was_learnt(clock: Clock) -> None:
    turns = TurnClock()
    turns.learn(0.3)
    assert turns.watch(POLICY).next_delay(0.1) == pytest.approx(0.1)


def test_first_look_just_before_the_usual_length_then_short_growing_steps(clock: Clock) -> None:
    turns = TurnClock()
    turns.learn(0.3)
    watch = turns.watch(POLICY)
    first = watch.next_delay(None)
    assert first == pytest.approx(0.27)
    clock.now += first
    watch.seen(working=True)
    steps = [watch.next_delay(None) for _ in range(3)]
    assert steps == pytest.approx([0.03, 0.045, 0.0675])


def test_the_length_learnt_is_between_the_last_working_look_and_the_first_done_one(
    clock: Clock,
) -> None:
    turns = TurnClock()
    watch = turns.watch(POLICY)
    clock.now += 0.4
    watch.seen(working=True)
    clock.now += 0.2
    watch.seen(working=False)
    watch.seen(working=False)  # a second look at a finished turn teaches nothing more
    assert turns.expected_s == pytest.approx(0.5)
    # Smoothed: one slow turn moves the estimate only part of the way.
    slow = turns.watch(POLICY)
    clock.now += 1.5
    slow.seen(working=False)
    assert 0.5 < (turns.expected_s or 0) < 1.5


def test_clocks_are_shared_per_assistant() -> None:
    assert polling.turn_clock("responses:asst_a") is polling.turn_clock("responses:asst_a")
    assert polling.turn_clock("responses:asst_a") is not polling.turn_clock("responses:asst_b")
