"""A lost reply to a Responses create request, after the server acted: the toolkit must end
with one response per step on the server (no second model turn, no tool run twice).

The emulator creates the response, then the fault proxy throws its answer away, so the
toolkit does not know the response's id. Responses cannot be listed, and a background
response that is still running has added nothing to the conversation yet: the toolkit must
not send the step again while that response may still end and leave its answer.

The race this guards against: the toolkit looks at the conversation (nothing yet), the lost
response then ends, and the request sent again starts a second model turn. A held request
makes it happen every time: the request that follows the look is held by the server until
the lost response has ended.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections import Counter
from collections.abc import Iterator

import pytest

from conversation.settings import Settings
from conversation.wiring import wire_to_server
from emulator import (
    CallTools,
    DemoStockModel,
    EmulatorServer,
    Fault,
    Holdings,
    Reply,
    Turn,
    TurnContext,
)
from emulator.responses import routes as responses_routes
from mediator.events import Reconciled, ToolExecuted
from proxies.policy import ExchangePolicy
from tests.integration.conftest import Recorder
from tools import demo_registry

POLICY = ExchangePolicy(
    deadline_s=30.0, poll_initial_s=0.01, poll_max_s=0.05, tool_timeout_s=5.0, cancel_timeout_s=5.0
)
NTH = {"create": 1, "submit": 2}  # which POST /responses: the user's message, the outputs
TURN_S = 0.3  # a model turn, in the held-request test
HELD_S = 0.6  # longer than a turn: the lost response ends while the next request is held


class CountingModel:
    """The demo model, each turn taking `delay_s`, counting the turns (responses) it is
    asked for, per conversation."""

    def __init__(self, delay_s: float) -> None:
        self._demo = DemoStockModel()
        self._delay_s = delay_s
        self._lock = threading.Lock()
        self.turns: Counter[str] = Counter()
        self.responses: dict[str, list[str]] = {}

    def __call__(self, context: TurnContext) -> Turn:
        with self._lock:
            self.turns[context.thread_id] += 1
            self.responses.setdefault(context.thread_id, []).append(context.run_id)
        turn = self._demo.decide(context)
        if isinstance(turn, Reply | CallTools):
            turn = dataclasses.replace(turn, delay=self._delay_s)
        return turn


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(poll_after_ms=10, queue_delay=0.0) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean_faults(emulator: EmulatorServer) -> Iterator[None]:
    yield
    emulator.faults.clear()


async def _two_exchanges(
    emulator: EmulatorServer, model: CountingModel, faults: list[Fault], delivery: str
) -> tuple[str, Recorder]:
    """Ask for two prices (each a tool call, then a reply) with `faults` on the first."""
    emulator.model = model
    user = wire_to_server(
        emulator.base_url,
        protocol="responses",
        delivery=delivery,
        registry=demo_registry(quote_source="simulated"),
        policy=POLICY,
        strict=True,
        settings=Settings.model_validate({"RECORD_EVENTS": False}),
        timeout_s=5.0,
    )
    recorder = Recorder()
    try:
        conversation_id = await user.open()
        recorder.subscription = user.on_event(recorder)
        for fault in faults:
            emulator.faults.add(fault)
        assert "AAPL" in await user.ask("What is the price of AAPL?")
        assert emulator.faults.fired(faults[0]) == 1
        assert "MSFT" in await user.ask("What is the price of MSFT?")
    finally:
        if recorder.subscription is not None:
            recorder.subscription.close()
        await user.aclose()
    return conversation_id, recorder


def _assert_one_response_per_step(
    emulator: EmulatorServer, model: CountingModel, conversation_id: str, recorder: Recorder
) -> None:
    # Two exchanges, each a tool call then a reply: four responses, four model turns.
    assert model.turns[conversation_id] == 4, model.responses[conversation_id]
    assert emulator.holdings(conversation_id) == Holdings(
        user_messages=2, assistant_messages=2, function_calls=2, tool_outputs=2, active=0
    )
    executed = [e.call.id for e in recorder.of(ToolExecuted)]  # type: ignore[attr-defined]
    assert len(executed) == len(set(executed)) == 2
    assert recorder.of(Reconciled), "the lost reply was looked into and reported"


@pytest.mark.parametrize("delivery", ["poll", "stream"])
@pytest.mark.parametrize("step", ["create", "submit"])
async def test_a_lost_response_that_ends_while_the_next_request_is_held_is_adopted(
    emulator: EmulatorServer, step: str, delivery: str
) -> None:
    """The look finds nothing (the lost response still runs); the next request reaches the
    server only after that response ended. Sent blindly, it would be a second model turn."""
    model = CountingModel(delay_s=TURN_S)
    # A dropped stream lasts until its response ended: a stream is lost before its first event.
    how: dict[str, object] = {"drop_reply": True} if delivery == "poll" else {"cut_at_byte": 0}
    lost = Fault(method="POST", path="/responses", status=None, nth=NTH[step], **how)  # type: ignore[arg-type]
    # The next POST /responses after the lost one (`nth` counts the requests `lost` let by).
    held = Fault(method="POST", path="/responses", status=None, nth=NTH[step], latency=HELD_S)
    conversation_id, recorder = await _two_exchanges(emulator, model, [lost, held], delivery)
    assert emulator.faults.fired(held) == 1
    _assert_one_response_per_step(emulator, model, conversation_id, recorder)


@pytest.mark.parametrize("step", ["create", "submit"])
@pytest.mark.parametrize("seed", range(8))
async def test_a_lost_create_reply_in_poll_mode_leaves_one_response_per_step(
    emulator: EmulatorServer, seed: int, step: str
) -> None:
    """The lost response's turn takes a different while in each seed, so it ends at a
    different moment of the toolkit's look-and-retry cycle."""
    model = CountingModel(delay_s=random.Random(seed).uniform(0.0, 0.3))
    lost = Fault(method="POST", path="/responses", status=None, nth=NTH[step], drop_reply=True)
    conversation_id, recorder = await _two_exchanges(emulator, model, [lost], "poll")
    _assert_one_response_per_step(emulator, model, conversation_id, recorder)


async def test_a_server_that_takes_the_question_as_a_request_is_asked_no_more(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Whether the conversation is free is asked with an output for a call that does not
    exist. A server that does not check outputs starts a response for it: that response is
    cancelled before it adds anything, and the lost one is adopted as before (the request
    sent again is cancelled once the lost one is found)."""
    monkeypatch.setattr(responses_routes, "check_tool_outputs", lambda *args: None)
    model = CountingModel(delay_s=TURN_S)
    lost = Fault(method="POST", path="/responses", status=None, nth=1, drop_reply=True)
    held = Fault(method="POST", path="/responses", status=None, nth=1, latency=HELD_S)
    conversation_id, recorder = await _two_exchanges(emulator, model, [lost, held], "poll")
    assert "accepted an output for an unknown call" in caplog.text
    assert emulator.holdings(conversation_id) == Holdings(
        user_messages=2, assistant_messages=2, function_calls=2, tool_outputs=2, active=0
    )
    executed = [e.call.id for e in recorder.of(ToolExecuted)]  # type: ignore[attr-defined]
    assert len(executed) == len(set(executed)) == 2
