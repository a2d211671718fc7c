"""Nothing in the toolkit blocks the event loop: fifty conversations take about as long as one."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import pytest

from emulator import DemoStockModel, EmulatorServer, Turn, TurnContext
from mediator.events import MessageRetrieved, RunStarted
from proxies.policy import ExchangePolicy
from tests.integration.conftest import ChatFactory

MODEL_DELAY_S = 0.5
POLICY = ExchangePolicy(deadline_s=30.0, poll_initial_s=0.05, poll_max_s=0.2, tool_timeout_s=5.0)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    """A server with a realistic poll hint (100 ms), as a hosted API would send."""
    with EmulatorServer(DelayedDemo(), poll_after_ms=100, queue_delay=0.0) as server:
        yield server


@pytest.fixture(autouse=True)
def _simulated_quotes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUOTE_SOURCE", "simulated")


class DelayedDemo:
    """The demo model, each turn spending a fixed time in progress."""

    def __init__(self) -> None:
        self._inner = DemoStockModel()

    def decide(self, context: TurnContext) -> Turn:
        return dataclasses.replace(self._inner.decide(context), delay=MODEL_DELAY_S)


@pytest.mark.parametrize("mediator_type", ["stateMachine"])
async def test_fifty_conversations_overlap_instead_of_queueing(make_chat: ChatFactory) -> None:
    """All fifty runs start before the first one ends: nothing serialises them.

    Each exchange spends two model turns of 0.5 s in progress, so if anything blocked the
    event loop (a sync call, a lock) the first reply would arrive before the last run began.
    The wall-clock comparison with one exchange is a benchmark (bench/bench_concurrency.py).
    """
    chats = [await make_chat(policy=POLICY) for _ in range(50)]
    replies = await asyncio.gather(*(user.ask("What is the price of AAPL?") for user, _ in chats))
    assert all("AAPL" in r and "simulated" in r for r in replies)
    starts = [rec.of(RunStarted)[0].at for _, rec in chats]
    ends = [rec.of(MessageRetrieved)[0].at for _, rec in chats]
    assert max(starts) < min(ends), "a conversation finished before all had started"
