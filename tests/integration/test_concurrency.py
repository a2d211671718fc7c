"""Nothing in the toolkit blocks the event loop: fifty conversations take about as long as one."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator

import pytest

from emulator import DemoStockModel, EmulatorServer
from emulator.models import TurnContext
from emulator.turns import Turn
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


async def _timed(chats: list[object]) -> tuple[float, list[str]]:
    loop = asyncio.get_running_loop()
    start = loop.time()
    replies = await asyncio.gather(
        *(chat.ask("What is the price of AAPL?") for chat in chats)  # type: ignore[attr-defined]
    )
    return loop.time() - start, list(replies)


async def test_fifty_conversations_take_about_the_time_of_one(make_chat: ChatFactory) -> None:
    single, _ = await make_chat(policy=POLICY)
    one_s, (reply,) = await _timed([single])
    assert "AAPL" in reply

    chats = [(await make_chat(policy=POLICY))[0] for _ in range(50)]
    fifty_s, replies = await _timed(chats)
    assert all("AAPL" in r and "simulated" in r for r in replies)
    # In sequence, fifty would take 50x; anything blocking the loop would serialise them.
    print(f"one exchange {one_s:.2f} s, fifty concurrent {fifty_s:.2f} s")
    assert fifty_s < 3 * one_s, f"one took {one_s:.2f} s, fifty took {fifty_s:.2f} s"
