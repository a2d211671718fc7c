"""Issue 9: never lose track of the server. A fault-injecting emulator between the toolkit
and its answers: lost replies after the server acted, streams cut before their first event
and mid-way, stalls longer than the client waits, connection resets; at the create, the
submit and the poll step; on both protocols and both deliveries.

For every cell: the faulted exchange completes, the next message in the same conversation is
answered, the server holds exactly one copy of each user message, tool output and reply with
nothing left running, each tool call ran once, and the events say each set of outputs was
submitted once. The demo model answers from what it is sent (not from a fixed script), so a
duplicate that recovery cancels cannot shift the answers; its turns take a realistic while.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from conversation.settings import Settings
from conversation.wiring import wire_to_server
from emulator import EmulatorServer, Fault, Holdings
from mediator.events import Reconciled, ToolExecuted, ToolOutputsSubmitted
from proxies.policy import ExchangePolicy
from tests.integration.conftest import Recorder
from tools import demo_registry

POLICY = ExchangePolicy(
    deadline_s=60.0, poll_initial_s=0.01, poll_max_s=0.2, tool_timeout_s=5.0, cancel_timeout_s=5.0
)
CLIENT_TIMEOUT_S = 1.0  # a stall longer than this is a request whose outcome is unknown
MODEL_TURN_S = 0.25


@dataclass(frozen=True)
class Kind:
    name: str
    fault: dict[str, object]


KINDS = [
    Kind("lost-reply", {"drop_reply": True}),
    Kind("cut-0", {"cut_at_byte": 0}),  # before the first event: the outcome is unknown
    Kind("cut-1500", {"cut_at_byte": 1500}),  # mid-stream: the request was taken
    Kind("stall", {"stall": 2.5}),
    Kind("reset", {"reset": True}),
]
STEPS = ["create", "submit", "poll"]
PROTOCOLS = ["responses", "assistants"]
DELIVERIES = ["stream", "poll"]


def _where(protocol: str, step: str) -> tuple[str, str, int]:
    """(method, path regex, nth matching request) of the step's request."""
    if protocol == "responses":
        return {
            "create": ("POST", "/responses", 1),
            "submit": ("POST", "/responses", 2),
            "poll": ("GET", "/responses/[^/]+", 1),
        }[step]
    return {
        "create": ("POST", "/threads/[^/]+/runs", 1),
        "submit": ("POST", "/threads/[^/]+/runs/[^/]+/submit_tool_outputs", 1),
        "poll": ("GET", "/threads/[^/]+/runs/[^/]+", 1),
    }[step]


CELLS = [
    pytest.param(kind, step, protocol, delivery, id=f"{kind.name}-{step}-{protocol}-{delivery}")
    for kind, step, protocol, delivery in itertools.product(KINDS, STEPS, PROTOCOLS, DELIVERIES)
    # A streamed exchange makes no status requests unless a stream breaks, and a poll
    # request's body is small: byte offsets apply to the create and submit streams.
    if not (step == "poll" and (delivery == "stream" or kind.name.startswith("cut-")))
]


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(poll_after_ms=10, queue_delay=0.0, model_delay=MODEL_TURN_S) as server:
        yield server


@pytest.fixture(autouse=True)
def _clean_faults(emulator: EmulatorServer) -> Iterator[None]:
    yield
    emulator.faults.clear()


@pytest.mark.parametrize(("kind", "step", "protocol", "delivery"), CELLS)
async def test_a_fault_never_loses_track_of_the_server(
    emulator: EmulatorServer, kind: Kind, step: str, protocol: str, delivery: str
) -> None:
    user = wire_to_server(
        emulator.base_url,
        protocol=protocol,
        delivery=delivery,
        registry=demo_registry(quote_source="simulated"),
        policy=POLICY,
        strict=True,
        settings=Settings.model_validate({"RECORD_EVENTS": False}),
        timeout_s=CLIENT_TIMEOUT_S,
    )
    recorder = Recorder()
    try:
        conversation_id = await user.open()
        recorder.subscription = user.on_event(recorder)
        method, path, nth = _where(protocol, step)
        fault = emulator.faults.add(
            Fault(method=method, path=path, status=None, nth=nth, **kind.fault)  # type: ignore[arg-type]
        )
        assert "AAPL" in await user.ask("What is the price of AAPL?")
        assert emulator.faults.fired(fault) == 1
        assert "MSFT" in await user.ask("What is the price of MSFT?")
    finally:
        if recorder.subscription is not None:
            recorder.subscription.close()
        await user.aclose()
    assert emulator.holdings(conversation_id) == Holdings(
        user_messages=2, assistant_messages=2, function_calls=2, tool_outputs=2, active=0
    )
    executed = [e.call.id for e in recorder.of(ToolExecuted)]  # type: ignore[attr-defined]
    assert len(executed) == len(set(executed)) == 2
    assert len(recorder.of(ToolOutputsSubmitted)) == 2
    if step != "poll":  # a lost status check is simply asked again; a lost POST is looked into
        assert recorder.of(Reconciled), "the ambiguous failure was looked into and reported"
