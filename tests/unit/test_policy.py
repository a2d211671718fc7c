"""Polling cadence and deadline validation of `ExchangePolicy`."""

from __future__ import annotations

import pytest

from proxies.policy import ExchangePolicy


def test_backoff_grows_to_the_cap() -> None:
    policy = ExchangePolicy(poll_initial_s=0.1, poll_factor=2.0, poll_max_s=0.5)
    delays = []
    delay = None
    for _ in range(5):
        delay = policy.next_poll_delay(delay, None)
        delays.append(delay)
    assert delays == [0.1, 0.2, 0.4, 0.5, 0.5]


def test_server_hint_wins_but_is_capped() -> None:
    policy = ExchangePolicy(poll_max_s=2.0)
    assert policy.next_poll_delay(1.5, 0.12) == 0.12
    assert policy.next_poll_delay(None, 30.0) == 2.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"deadline_s": 0},
        {"poll_initial_s": -1},
        {"tool_timeout_s": 0},
        {"cancel_timeout_s": -0.1},
        {"poll_factor": 0.5},
        {"poll_initial_s": 3.0, "poll_max_s": 1.0},
    ],
)
def test_invalid_policies_are_rejected_by_name(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs)).split("_s")[0]):
        ExchangePolicy(**kwargs)
