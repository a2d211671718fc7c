"""Fixtures wiring real conversations to the emulator over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from conversation.wiring import wire_to_server
from emulator import EmulatorServer, ScriptedModel
from mediator.bus import Subscription
from mediator.events import MediatorEvent, StateChanged
from proxies.policy import ExchangePolicy
from proxies.user_proxy import UserProxy
from tools import ToolRegistry, demo_registry

MEDIATORS = ["basic", "stateMachine"]
PROTOCOLS = ["assistants", "responses"]
DELIVERIES = ["poll", "stream"]

FAST_POLICY = ExchangePolicy(
    deadline_s=10.0, poll_initial_s=0.01, poll_max_s=0.05, tool_timeout_s=2.0, cancel_timeout_s=2.0
)


@pytest.fixture(params=MEDIATORS)
def mediator_type(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=PROTOCOLS)
def protocol(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=DELIVERIES)
def delivery(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@dataclass
class Recorder:
    """Collects one conversation's events, in order."""

    events: list[MediatorEvent] = field(default_factory=list)
    subscription: Subscription | None = None

    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self, event: MediatorEvent) -> None:
        self.events.append(event)
        self._changed.set()

    @property
    def states(self) -> list[str]:
        return [str(e.state) for e in self.events if isinstance(e, StateChanged)]

    @property
    def topics(self) -> list[str]:
        return [e.topic for e in self.events]

    async def wait_for_state(self, state: str, within_s: float = 5.0) -> None:
        """Wait until the conversation has passed through `state` (with a deadline)."""
        async with asyncio.timeout(within_s):
            while state not in self.states:
                self._changed.clear()
                await self._changed.wait()

    def of(self, kind: type[MediatorEvent]) -> list[MediatorEvent]:
        return [e for e in self.events if isinstance(e, kind)]


ChatFactory = Callable[..., Awaitable[tuple[UserProxy, Recorder]]]


@pytest.fixture
async def make_chat(
    emulator: EmulatorServer, mediator_type: str, protocol: str, delivery: str
) -> AsyncIterator[ChatFactory]:
    """Build opened conversations against the emulator with a strict SDK client."""
    made: list[tuple[UserProxy, Recorder]] = []

    async def factory(
        model: object | None = None,
        *,
        policy: ExchangePolicy = FAST_POLICY,
        registry: ToolRegistry | None = None,
        max_retries: int = 2,
    ) -> tuple[UserProxy, Recorder]:
        if model is not None:
            emulator.model = model  # type: ignore[assignment]
        user = wire_to_server(
            emulator.base_url,
            protocol=protocol,
            delivery=delivery,
            mediator_type=mediator_type,
            registry=registry or demo_registry(),
            policy=policy,
            max_retries=max_retries,
            strict=True,
        )
        await user.open()
        recorder = Recorder()
        recorder.subscription = user.on_event(recorder)
        made.append((user, recorder))
        return user, recorder

    yield factory
    for user, recorder in made:
        if recorder.subscription is not None:
            recorder.subscription.close()
        await user.aclose()


def scripted(*turns: object) -> ScriptedModel:
    return ScriptedModel(list(turns))  # type: ignore[arg-type]
