"""One suite of scripted conversations on every combination of protocol, delivery and
mediator: each combination walks the same states and publishes the same event types.

This is the seed's promise made testable: nothing above the Assistant Proxy can tell the
Assistants protocol from the Responses protocol, or polling from streaming, or a server that
keeps the conversation from one that keeps nothing (`responses-stateless` against the emulator's
`stateless` profile, `chat` against its `chat` profile). The stateful protocols run every
combination; the stateless backends run each delivery once, the mediators alternating (the
mediators are already shown to agree on every protocol), which keeps the suite's time in check.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import replace

import pytest

from conversation.settings import Settings
from conversation.wiring import wire_to_server
from emulator import (
    CallTools,
    EmulatorServer,
    Fail,
    Incomplete,
    Reply,
    ScriptedModel,
    Stall,
    ToolSpec,
)
from mediator.errors import ExchangeError
from mediator.events import (
    ApprovalRequested,
    MediatorEvent,
    RunStatusChecked,
    StateChanged,
    ToolExecuted,
    ToolOutputsSubmitted,
    UsageReported,
)
from proxies.user_proxy import UserProxy
from tests.integration.conftest import FAST_POLICY, Recorder

COMBINATIONS = list(
    itertools.product(
        ["assistants", "responses", "responses-stateless", "chat"],
        ["poll", "stream"],
        ["basic", "stateMachine"],
    )
)
#: The server profile each protocol runs against (`emulator.common.profiles`).
PROFILE = {"responses-stateless": "stateless", "chat": "chat"}
# Every model turn lasts longer than a poll interval, so polling sees `running` as streaming
# does (the "dotted lines" of the script are covered elsewhere).
TURN_S = 0.12
PRICE = ToolSpec("get_stock_price", {"symbol": "AAPL"})

SCENARIOS: dict[str, list[object]] = {
    "plain reply": [Reply("hello", delay=TURN_S)],
    "one tool": [CallTools([PRICE], delay=TURN_S), Reply("AAPL price", delay=TURN_S)],
    "parallel tools": [
        CallTools([PRICE, ToolSpec("get_stock_price", {"symbol": "MSFT"})], delay=TURN_S),
        Reply("two prices", delay=TURN_S),
    ],
    "two rounds": [
        CallTools([PRICE], delay=TURN_S),
        CallTools([ToolSpec("buy_or_sell", {"symbol": "AAPL", "price": 150.0})], delay=TURN_S),
        Reply("buy", delay=TURN_S),
    ],
    "tool error": [
        CallTools([ToolSpec("get_stock_price", "{oops")], delay=TURN_S),
        Reply("sorry", delay=TURN_S),
    ],
    "failed": [Fail(code="server_error", message="scripted failure", delay=TURN_S)],
    "incomplete": [Incomplete(delay=TURN_S)],
    "cancelled": [Stall()],
    "deadline": [Stall()],
    # A free call runs at once; of two calls that need approval one is approved, one not.
    "approval, mixed": [
        CallTools(
            [
                PRICE,
                ToolSpec("buy_or_sell", {"symbol": "MSFT", "price": 404.0}),
                ToolSpec("buy_or_sell", {"symbol": "TSLA", "price": 250.0}),
            ],
            delay=TURN_S,
        ),
        Reply("one approved, one declined", delay=TURN_S),
    ],
}


Servers = dict[str, EmulatorServer]


@pytest.fixture(scope="module")
def emulators() -> Iterator[Servers]:
    """One emulator per server profile the combinations use."""
    with contextlib.ExitStack() as stack:
        servers = {
            profile: stack.enter_context(
                EmulatorServer(poll_after_ms=10, queue_delay=0.0, profile=profile)
            )
            for profile in ("openai", *PROFILE.values())
        }
        # The first request of each kind in a process pays one-time costs (imports, model
        # building) that can outlast a model turn and hide `running` from polling: warm up.
        asyncio.run(_warm_up(servers))
        yield servers


def _server(servers: Servers, protocol: str) -> EmulatorServer:
    return servers[PROFILE.get(protocol, "openai")]


async def _warm_up(servers: Servers) -> None:
    for protocol, delivery, _ in COMBINATIONS:
        server = _server(servers, protocol)
        server.model = ScriptedModel([CallTools([PRICE]), Reply("warm")])
        user = wire_to_server(server.base_url, protocol=protocol, delivery=delivery, strict=True)
        try:
            await user.ask("warm up")
        finally:
            await user.aclose()


@pytest.fixture(autouse=True)
def _simulated_quotes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUOTE_SOURCE", "simulated")


def _seen_running(event: MediatorEvent) -> bool:
    return isinstance(event, StateChanged) and str(event.state) == "running"


def _trace(events: list[MediatorEvent]) -> tuple[list[str], list[str]]:
    """States walked, and event types with repeats of one type folded (polls and deltas
    come in numbers that depend on timing and chunking, not on the conversation).

    `running` and status checks are left out: how many looks a run gets (none, when the answer
    to starting it already says how it ended) and whether one caught it working depend on
    timing (on a busy machine a poll may come after the turn ended: the script's dotted line
    from `started` or `tool_outputs_submitted` straight on). Streams, which report the run
    working as it happens, are checked apart for `running`.
    """
    events = [e for e in events if not _seen_running(e) and not isinstance(e, RunStatusChecked)]
    states = [str(e.state) for e in events if isinstance(e, StateChanged)]
    types: list[str] = []
    for event in events:
        if isinstance(event, UsageReported):
            # Reported per response (Responses) or once per run (Assistants): when differs by
            # protocol; what it adds up to is checked in tests/persistence/test_usage.py.
            continue
        name = type(event).__name__
        if not types or types[-1] != name:
            types.append(name)
    return states, types


async def _converse(
    servers: Servers, scenario: str, protocol: str, delivery: str, mediator: str
) -> tuple[tuple[list[str], list[str]], bool]:
    emulator = _server(servers, protocol)
    emulator.model = ScriptedModel(list(SCENARIOS[scenario]))  # type: ignore[arg-type]
    policy = replace(FAST_POLICY, deadline_s=0.5) if scenario == "deadline" else FAST_POLICY
    user: UserProxy = wire_to_server(
        emulator.base_url,
        protocol=protocol,
        delivery=delivery,
        mediator_type=mediator,
        policy=policy,
        strict=True,
        settings=Settings(APPROVE_TOOLS="buy_or_sell"),
    )
    recorder = Recorder()

    def answer(event: MediatorEvent) -> None:  # from a listener: applied right after it
        if isinstance(event, ApprovalRequested):
            if "MSFT" in event.call.arguments:
                user.approve(event.call.id)
            else:
                user.reject(event.call.id, "not this one")

    try:
        with user.on_event(recorder), user.on_event(answer):
            user.send_user_message("go")
            if scenario == "cancelled":
                await recorder.wait_for_state("running")
                await user.cancel()
            try:
                await user.get_assistant_message()
            except ExchangeError:
                pass
    finally:
        await user.aclose()
    return _trace(recorder.events), any(_seen_running(e) for e in recorder.events)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_every_combination_walks_the_same_states_and_events(
    emulators: Servers, scenario: str
) -> None:
    held = {combo: await _converse(emulators, scenario, *combo) for combo in COMBINATIONS}
    traces = {combo: trace for combo, (trace, _) in held.items()}
    reference_combo = COMBINATIONS[0]
    reference = traces[reference_combo]
    for combo, trace in traces.items():
        assert trace == reference, f"{combo} differs from {reference_combo}"
    states, types = reference
    expected_end = {"cancelled": "cancelled", "failed": "failed", "incomplete": "failed"}
    assert states[-1] == expected_end.get(
        scenario, "failed" if scenario == "deadline" else "completed"
    )
    # A stream reports the run working as it happens; polling sees it when the look is timely.
    assert all(seen for (_, delivery, _), (_, seen) in held.items() if delivery == "stream")
    if scenario.startswith("approval"):
        assert states[states.index("requires_action") :][:3] == [
            "requires_action",
            "awaiting_approval",
            "tools_executed",
        ]
        assert types[types.index("ApprovalRequested") :][:3] == [
            "ApprovalRequested",
            "ApprovalGiven",
            "ApprovalRejected",
        ]


async def test_mixed_approvals_run_the_approved_call_once_and_tell_the_model_of_the_refusal(
    emulator: EmulatorServer,
) -> None:
    emulator.model = ScriptedModel(list(SCENARIOS["approval, mixed"]))  # type: ignore[arg-type]
    user = wire_to_server(
        emulator.base_url, settings=Settings(APPROVE_TOOLS="buy_or_sell"), strict=True
    )
    recorder = Recorder()

    def answer(event: MediatorEvent) -> None:
        if isinstance(event, ApprovalRequested):
            assert event.why == "the APPROVE_TOOLS setting lists buy_or_sell"
            if "MSFT" in event.call.arguments:
                user.approve(event.call.id)
            else:
                user.reject(event.call.id, "too risky")

    try:
        with user.on_event(recorder), user.on_event(answer):
            assert await user.ask("go") == "one approved, one declined"
    finally:
        await user.aclose()
    executed = [e for e in recorder.events if isinstance(e, ToolExecuted)]
    outcome = {(e.call.name, e.result.is_error, e.result.error_type) for e in executed}
    assert len(executed) == 3
    assert outcome == {
        ("get_stock_price", False, None),
        ("buy_or_sell", False, None),
        ("buy_or_sell", True, "declined_by_user"),
    }
    refused = next(e for e in executed if e.result.is_error)
    assert "TSLA" in refused.call.arguments
    assert "The user declined this call to buy_or_sell: too risky" in refused.result.output
    # What the model was sent for the refused call is that very output.
    submitted = [
        r for e in recorder.events if isinstance(e, ToolOutputsSubmitted) for r in e.results
    ]
    assert refused.result in submitted
