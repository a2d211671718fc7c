"""Helpers shared by the persistence tests and their subprocess scripts.

Real conversations: the emulator over HTTP on 127.0.0.1, the real SDK, `conversation.wiring`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from conversation.settings import Settings
from conversation.wiring import wire_to_server
from mediator.basic import MediatorBasic
from mediator.bus import Subscription, subscribe
from mediator.errors import ExchangeError
from mediator.events import MediatorEvent
from proxies.policy import ExchangePolicy
from proxies.user_proxy import UserProxy
from tools.types import ToolCall, ToolResult

FAST_POLICY = ExchangePolicy(
    deadline_s=20.0, poll_initial_s=0.01, poll_max_s=0.05, tool_timeout_s=5.0, cancel_timeout_s=2.0
)

QUESTIONS = (
    "Should I buy MSFT and TSLA?",  # two rounds of parallel tool calls
    "What is the price of AAPL?",  # one round
    "hello",  # no tool
)


@dataclass
class EventLog:
    """Every event published while subscribed, in order, counted per session (thread-safe)."""

    events: list[MediatorEvent] = field(default_factory=list)
    subscription: Subscription | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: MediatorEvent) -> None:
        with self._lock:
            self.events.append(event)

    def start(self) -> EventLog:
        self.subscription = subscribe(self)
        return self

    def stop(self) -> None:
        if self.subscription is not None:
            self.subscription.close()

    def per_session(self) -> Counter[str]:
        with self._lock:
            return Counter(e.session_id or "" for e in self.events)

    def of_session(self, session_id: str) -> list[MediatorEvent]:
        with self._lock:
            return [e for e in self.events if e.session_id == session_id]


def open_chat(
    base_url: str,
    *,
    mediator_type: str = "basic",
    protocol: str = "assistants",
    delivery: str = "poll",
    max_retries: int = 2,
) -> UserProxy:
    """A conversation with the emulator's demo stock assistant (thread made on first message)."""
    return wire_to_server(
        base_url,
        # These tests start their own recorders; no process-wide one on top.
        settings=Settings.model_validate({"RECORD_EVENTS": False}),
        protocol=protocol,
        delivery=delivery,
        mediator_type=mediator_type,
        policy=FAST_POLICY,
        max_retries=max_retries,
        strict=True,
    )


def session_of(user: UserProxy) -> str:
    """The mediator's session id (the proxies do not expose it)."""
    return user.session_id


async def wait_until(predicate: Callable[[], bool], *, within_s: float, what: str) -> None:
    """Wait for observable state (checked every 10 ms) up to a deadline."""
    deadline = time.monotonic() + within_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within_s} s: {what}")
        await asyncio.sleep(0.01)


class _QuietUser:
    """A user side that runs no tools (the results are made up) and ignores replies."""

    async def execute_tools(self, calls: Sequence[ToolCall]) -> Sequence[ToolResult]:
        return [ToolResult(call_id=c.id, name=c.name, output='{"price": 1.0}') for c in calls]

    def deliver_reply(self, text: str) -> None:
        pass

    def deliver_error(self, error: ExchangeError) -> None:
        pass


class _QuietAssistant:
    def start_exchange(self, exchange_id: str, text: str) -> None:
        pass


def quiet_mediator(conversation_id: str | None = None) -> MediatorBasic:
    """A real mediator with do-nothing participants: real events, no HTTP."""
    mediator = MediatorBasic(conversation_id=conversation_id)
    mediator.attach(_QuietUser(), _QuietAssistant())
    return mediator


async def drive_exchange(
    mediator: MediatorBasic, *, conversation_id: str, run_id: str, text: str = "Price of AAPL?"
) -> None:
    """One whole exchange with one tool call, published by a real mediator (14 events)."""
    mediator.set_user_message(text)
    if mediator.conversation_id is None:
        mediator.bind_conversation(conversation_id)
    mediator.started(run_id)
    mediator.heartbeat("in_progress")
    call = ToolCall(id=f"call_{run_id}", name="get_stock_price", arguments='{"symbol": "AAPL"}')
    results = await mediator.action_required([call])
    mediator.tool_outputs_submitted(results)
    mediator.assistant_message_retrieved("AAPL is at 1.0.")


def publish_binding(conversation_id: str, *, assistant_id: str, backend: str = "") -> None:
    """Publish the `ConversationBound` event a conversation's Assistant Proxy would: the only
    way persistence learns which assistant and backend a conversation uses."""
    from mediator.bus import publish
    from mediator.events import ConversationBound
    from mediator.script import State

    publish(
        ConversationBound(
            conversation_id=conversation_id,
            run_id=None,
            state=State.NEW,
            assistant_id=assistant_id,
            backend=backend,
        )
    )
