"""Issue 9: a conversation stays usable however an exchange ends, and a flaky network loses
nothing and duplicates nothing.

- The deadline passes, or the user cancels, while a tool runs: the next message in the same
  conversation is answered normally (both protocols). On the Responses protocol this was the
  "dead conversation" bug: the completed response's `function_call` stayed without output and
  the proxy waited for it to end, forever.
- 50 exchanges on a network that resets 10% of requests: at least 49 complete, no dead
  conversation, and the server holds exactly one copy of every message and output.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest

from conversation.settings import Settings
from conversation.wiring import wire_to_server
from emulator import EmulatorServer, Fault, Holdings
from mediator.errors import ExchangeCancelledError, ExchangeError, ExchangeTimeoutError
from proxies.policy import ExchangePolicy
from proxies.user_proxy import UserProxy
from tests.integration.conftest import Recorder
from tools import ToolRegistry, buy_or_sell, demo_registry, function_tool

NO_RECORDING = Settings.model_validate({"RECORD_EVENTS": False})


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(poll_after_ms=10, queue_delay=0.0) as server:
        yield server


class SlowQuotes:
    """A `get_stock_price` that blocks until released (or its own generous bound)."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()

    def registry(self) -> ToolRegistry:
        @function_tool(name="get_stock_price", timeout=120.0)
        def get_stock_price(symbol: str) -> str:
            """Get the current price of a stock.

            Args:
                symbol: The ticker symbol.
            """
            self.entered.set()
            self.release.wait(timeout=60)
            return json.dumps({"symbol": symbol.upper(), "price": 123.45, "source": "simulated"})

        return ToolRegistry([get_stock_price, buy_or_sell], default_timeout=120.0)


def _chat(
    emulator: EmulatorServer, protocol: str, registry: ToolRegistry, deadline_s: float
) -> UserProxy:
    policy = ExchangePolicy(
        deadline_s=deadline_s, poll_initial_s=0.01, poll_max_s=0.1, tool_timeout_s=120.0
    )
    return wire_to_server(
        emulator.base_url,
        protocol=protocol,
        delivery="stream",
        registry=registry,
        policy=policy,
        strict=True,
        settings=NO_RECORDING,
    )


async def _wait_until(flag: threading.Event) -> None:
    """Wait (in a worker thread, with a deadline) until the tool's thread sets `flag`."""
    assert await asyncio.to_thread(flag.wait, 60), "the tool was never called"


@pytest.mark.parametrize("protocol", ["responses", "assistants"])
@pytest.mark.parametrize("ending", ["deadline", "cancel"])
async def test_an_exchange_ended_while_a_tool_runs_leaves_the_conversation_usable(
    emulator: EmulatorServer, protocol: str, ending: str
) -> None:
    slow = SlowQuotes()
    user = _chat(
        emulator, protocol, slow.registry(), deadline_s=1.0 if ending == "deadline" else 60
    )
    try:
        conversation_id = await user.open()
        user.send_user_message("What is the price of AAPL?")
        await _wait_until(slow.entered)
        if ending == "cancel":
            await user.cancel()
        with pytest.raises(ExchangeCancelledError if ending == "cancel" else ExchangeTimeoutError):
            await user.get_assistant_message()
        slow.release.set()  # the tool's thread finishes; its result is no longer wanted
        reply = await user.ask("Should I buy MSFT?")
        assert "MSFT" in reply
    finally:
        slow.release.set()
        await user.aclose()
    held = emulator.holdings(conversation_id)
    assert held.active == 0
    assert held.user_messages == 2
    if protocol == "responses":  # a call without output would fail every later response
        assert held.function_calls == held.tool_outputs
    # (an Assistants run cancelled in requires_action keeps its unanswered call: harmless)


@pytest.mark.parametrize("protocol", ["responses", "assistants"])
@pytest.mark.parametrize("delivery", ["stream", "poll"])
async def test_fifty_exchanges_on_a_network_resetting_one_request_in_ten(
    emulator: EmulatorServer, protocol: str, delivery: str
) -> None:
    policy = ExchangePolicy(deadline_s=60.0, poll_initial_s=0.01, poll_max_s=0.2)
    user = wire_to_server(
        emulator.base_url,
        protocol=protocol,
        delivery=delivery,
        registry=demo_registry(quote_source="simulated"),
        policy=policy,
        max_retries=2,
        strict=True,
        settings=NO_RECORDING,
    )
    recorder = Recorder()
    completed = 0
    try:
        conversation_id = await user.open()
        recorder.subscription = user.on_event(recorder)
        emulator.faults.add(Fault(status=None, reset=True, times=None, probability=0.1, seed=7))
        for turn in range(50):
            try:
                reply = await user.ask(f"What is the price of AAPL? ({turn})")
            except ExchangeError:
                continue
            completed += 1
            assert "AAPL" in reply
    finally:
        emulator.faults.clear()
        if recorder.subscription is not None:
            recorder.subscription.close()
        await user.aclose()
    assert completed >= 49
    held = emulator.holdings(conversation_id)
    assert held == Holdings(
        user_messages=held.user_messages,
        assistant_messages=held.user_messages,
        function_calls=held.user_messages,
        tool_outputs=held.user_messages,
        active=0,
    )
    assert completed <= held.user_messages <= 50  # one copy of each message, at most


class BrokenJournal:
    """A journal whose database is away: every call fails."""

    def __getattr__(self, name: str) -> object:
        def fail(*args: object) -> None:
            raise ConnectionError(f"journal database unreachable ({name})")

        return fail


async def test_an_unavailable_journal_never_stops_a_conversation() -> None:
    from mediator import create_mediator
    from proxies.assistant_proxy import AssistantProxy
    from proxies.backends import RunStatus, ScriptedBackend

    backend = ScriptedBackend([RunStatus.REQUIRES_ACTION, RunStatus.COMPLETED], reply="fine")
    policy = ExchangePolicy(deadline_s=30.0, poll_initial_s=0.001, poll_max_s=0.001)
    mediator = create_mediator("stateMachine")
    journal = BrokenJournal()
    user = UserProxy(
        mediator, demo_registry(quote_source="simulated"), policy=policy, journal=journal
    )  # type: ignore[arg-type]
    assistant = AssistantProxy(backend, "asst_1", mediator, policy=policy, journal=journal)  # type: ignore[arg-type]
    mediator.attach(user, assistant)
    assert await user.ask("What is the price of AAPL?") == "fine"
    assert len(backend.submitted) == 1  # the tool ran and its output went back
