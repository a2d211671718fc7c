"""Admission control end to end: real conversations over real HTTP against the emulator, with
`MAX_EXCHANGES_IN_PROGRESS` fixed, so what the gate lets through can be counted.

First come first served, the limit holds, a cancelled exchange frees its slot, and a failed
one leaves no slot taken (the next conversation is answered)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator

import pytest

from conversation.settings import load_settings
from conversation.wiring import wire_to_server
from emulator import DemoStockModel, EmulatorServer, Fault, Turn, TurnContext
from mediator.errors import ExchangeCancelledError, ExchangeFailedError
from mediator.events import MediatorEvent, MessageRetrieved, RunStarted
from proxies.policy import ExchangePolicy
from proxies.user_proxy import UserProxy

POLICY = ExchangePolicy(deadline_s=60.0, tool_timeout_s=10.0, cancel_timeout_s=10.0)
WITHIN_S = 30.0
QUESTION = "What is the price of AAPL?"


class Demo:
    """The demo model; turns take `delay` seconds, the first run's first turn `first_delay`."""

    def __init__(self, delay: float = 0.05, first_delay: float | None = None) -> None:
        self._inner = DemoStockModel()
        self._delay, self._first_delay = delay, first_delay

    def decide(self, context: TurnContext) -> Turn:
        delay = self._delay
        if self._first_delay is not None:
            delay, self._first_delay = self._first_delay, None
        return dataclasses.replace(self._inner.decide(context), delay=delay)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(Demo(), queue_delay=0.0) as server:
        yield server


@pytest.fixture
async def chats(emulator: EmulatorServer) -> AsyncIterator[list[UserProxy]]:
    made: list[UserProxy] = []
    yield made
    for user in made:
        await user.aclose()


async def open_chats(
    emulator: EmulatorServer, chats: list[UserProxy], limit: int, count: int
) -> None:
    """`count` conversations in one process sharing a gate of `limit`, opened in order (so
    their places in line are in that order)."""
    settings = load_settings(
        {
            "MAX_EXCHANGES_IN_PROGRESS": str(limit),
            "RECORD_EVENTS": "false",
            "QUOTE_SOURCE": "simulated",
        },
        dotenv_path=None,
    )
    for _ in range(count):
        user = wire_to_server(emulator.base_url, policy=POLICY, settings=settings, max_retries=0)
        chats.append(user)
        await user.open()


class Progress:
    """Which conversations' runs started, in order, and how many were in progress at most."""

    def __init__(self, chats: list[UserProxy]) -> None:
        self.started: list[int] = []
        self.running = 0
        self.most = 0
        self.changed = asyncio.Event()
        self._subscriptions = [  # kept: a subscription ends when it is dropped
            user.on_event(lambda event, n=number: self._seen(n, event))
            for number, user in enumerate(chats)
        ]

    def _seen(self, number: int, event: MediatorEvent) -> None:
        if isinstance(event, RunStarted):
            self.started.append(number)
            self.running += 1
            self.most = max(self.most, self.running)
            self.changed.set()
        elif isinstance(event, MessageRetrieved):
            self.running -= 1


async def test_the_line_is_served_first_come_first_served(
    emulator: EmulatorServer, chats: list[UserProxy]
) -> None:
    emulator.model = Demo()  # type: ignore[assignment]
    await open_chats(emulator, chats, limit=1, count=6)
    progress = Progress(chats)
    # Asked in the reverse order: the last comes in at once (the gate is free), the others
    # wait, and are then served in the order their conversations came, not the order asked.
    async with asyncio.timeout(WITHIN_S):
        replies = await asyncio.gather(*(user.ask(QUESTION) for user in reversed(chats)))
    assert all("AAPL" in reply for reply in replies)
    assert progress.started == [5, 0, 1, 2, 3, 4]
    assert progress.most == 1


async def test_the_limit_holds_across_conversations(
    emulator: EmulatorServer, chats: list[UserProxy]
) -> None:
    emulator.model = Demo(delay=0.1)  # type: ignore[assignment]
    await open_chats(emulator, chats, limit=3, count=12)
    progress = Progress(chats)
    async with asyncio.timeout(WITHIN_S):
        replies = await asyncio.gather(*(user.ask(QUESTION) for user in chats))
    assert len(replies) == 12
    assert progress.most == 3
    assert sorted(progress.started) == list(range(12))


async def test_a_cancelled_exchange_frees_its_slot(
    emulator: EmulatorServer, chats: list[UserProxy]
) -> None:
    emulator.model = Demo(first_delay=600.0)  # the first run would hold the slot for ten minutes
    await open_chats(emulator, chats, limit=1, count=2)
    stuck, waiting = chats
    progress = Progress(chats)
    stuck.send_user_message(QUESTION)
    async with asyncio.timeout(WITHIN_S):
        while progress.started != [0]:
            progress.changed.clear()
            await progress.changed.wait()
    answer = asyncio.create_task(waiting.ask(QUESTION))
    await stuck.cancel()
    with pytest.raises(ExchangeCancelledError):
        await stuck.get_assistant_message()
    async with asyncio.timeout(WITHIN_S):
        assert "AAPL" in await answer


async def test_a_failed_exchange_leaves_no_slot_taken(
    emulator: EmulatorServer, chats: list[UserProxy]
) -> None:
    emulator.model = Demo()  # type: ignore[assignment]
    await open_chats(emulator, chats, limit=1, count=2)
    failing, next_one = chats
    emulator.faults.add(Fault(method="POST", path=r"/responses", status=401, times=1))
    async with asyncio.timeout(WITHIN_S):
        failed, answered = await asyncio.gather(
            failing.ask(QUESTION), next_one.ask(QUESTION), return_exceptions=True
        )
    assert isinstance(failed, ExchangeFailedError)
    assert isinstance(answered, str)
    assert "AAPL" in answered
