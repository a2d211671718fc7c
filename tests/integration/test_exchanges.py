"""Whole exchanges through both mediators, the real SDK and the emulator over HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json

import pytest

from emulator import CallTools, Expire, Fail, Incomplete, Reply, Stall, ToolSpec
from mediator.errors import ExchangeCancelledError, ExchangeFailedError, ExchangeTimeoutError
from mediator.events import ExchangeFailed, MessageRetrieved, ToolExecuted, ToolOutputsSubmitted
from proxies.policy import ExchangePolicy
from proxies.user_proxy import ConversationBusyError
from tests.integration.conftest import FAST_POLICY, ChatFactory, scripted
from tools import ToolRegistry, demo_registry, function_tool


@pytest.fixture(autouse=True)
def _simulated_quotes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUOTE_SOURCE", "simulated")


async def test_plain_reply_completes(make_chat: ChatFactory) -> None:
    user, rec = await make_chat(scripted(Reply("Hello there.")))
    assert await user.ask("hi") == "Hello there."
    assert rec.states[0] == "ready"
    assert rec.states[-1] == "completed"
    assert "requires_action" not in rec.states
    assert [e.text for e in rec.of(MessageRetrieved)] == ["Hello there."]  # type: ignore[attr-defined]


async def test_one_tool_call_output_reaches_the_assistant(make_chat: ChatFactory) -> None:
    user, rec = await make_chat(
        scripted(CallTools([ToolSpec("get_stock_price", {"symbol": "AAPL"})]), Reply("done"))
    )
    assert await user.ask("price of AAPL?") == "done"
    executed = rec.of(ToolExecuted)
    assert len(executed) == 1
    output = json.loads(executed[0].result.output)  # type: ignore[attr-defined]
    assert output["symbol"] == "AAPL"
    assert output["source"] == "simulated"
    states = rec.states
    assert states.index("requires_action") < states.index("tools_executed")
    assert states.index("tools_executed") < states.index("tool_outputs_submitted")
    assert states[-1] == "completed"
    # The step list the API reports carries the submitted output.
    assert any(
        "get_stock_price" in s.detail and "AAPL" in s.detail for s in await user.list_run_steps()
    )


async def test_parallel_tool_calls_are_submitted_together(make_chat: ChatFactory) -> None:
    user, rec = await make_chat(
        scripted(
            CallTools(
                [
                    ToolSpec("get_stock_price", {"symbol": "MSFT"}),
                    ToolSpec("get_stock_price", {"symbol": "TSLA"}),
                ]
            ),
            Reply("two prices"),
        )
    )
    assert await user.ask("MSFT and TSLA?") == "two prices"
    submitted = rec.of(ToolOutputsSubmitted)
    assert len(submitted) == 1
    assert len(submitted[0].results) == 2  # type: ignore[attr-defined]


async def test_two_rounds_of_tool_calls(make_chat: ChatFactory) -> None:
    user, rec = await make_chat(
        scripted(
            CallTools([ToolSpec("get_stock_price", {"symbol": "MSFT"})]),
            CallTools([ToolSpec("buy_or_sell", {"symbol": "MSFT", "price": 402.1})]),
            Reply("hold"),
        )
    )
    assert await user.ask("buy MSFT?") == "hold"
    assert [e.call.name for e in rec.of(ToolExecuted)] == ["get_stock_price", "buy_or_sell"]  # type: ignore[attr-defined]
    assert rec.states.count("requires_action") == 2


@function_tool
def slow_tool() -> str:
    """Sleeps longer than the exchange's tool timeout."""
    import time

    time.sleep(1.0)
    return "too late"


@function_tool
def broken_tool(value: int) -> str:
    """Always raises."""
    raise RuntimeError(f"broken with {value}")


TOOL_FAULTS = [
    pytest.param(ToolSpec("get_stock_price", "{not json"), "invalid_json", id="invalid-json"),
    pytest.param(ToolSpec("get_stock_price", {"ticker": "AAPL"}), "invalid_arguments", id="schema"),
    pytest.param(ToolSpec("no_such_tool", {}), "unknown_tool", id="unknown-tool"),
    pytest.param(ToolSpec("broken_tool", {"value": 3}), "exception", id="exception"),
    pytest.param(ToolSpec("slow_tool", {}), "timeout", id="timeout"),
]


@pytest.mark.parametrize(("spec", "error_type"), TOOL_FAULTS)
async def test_tool_fault_becomes_error_output_and_run_completes(
    make_chat: ChatFactory, spec: ToolSpec, error_type: str
) -> None:
    registry = ToolRegistry([slow_tool, broken_tool])
    for tool in demo_registry().tools:
        registry.register(tool)
    policy = dataclasses.replace(FAST_POLICY, tool_timeout_s=0.3)
    user, rec = await make_chat(
        scripted(CallTools([spec]), Reply("handled")), registry=registry, policy=policy
    )
    assert await user.ask("go") == "handled"
    (executed,) = rec.of(ToolExecuted)
    result = executed.result  # type: ignore[attr-defined]
    assert result.is_error
    assert result.error_type == error_type
    assert json.loads(result.output)["error"]["type"] == error_type
    # The assistant saw the error output: the API's step list carries it.
    assert any(error_type in s.detail for s in await user.list_run_steps())
    assert rec.states[-1] == "completed"


RUN_OUTCOMES = [
    pytest.param(Fail(code="server_error", message="model exploded"), "failed", id="failed"),
    pytest.param(Incomplete(reason="max_completion_tokens"), "incomplete", id="incomplete"),
    pytest.param(Expire(), "expired", id="expired"),
]


@pytest.mark.parametrize(("turn", "status"), RUN_OUTCOMES)
async def test_run_outcome_ends_exchange_with_clear_error_and_next_message_works(
    make_chat: ChatFactory, turn: object, status: str, protocol: str
) -> None:
    if protocol == "responses" and status == "expired":
        status = "failed"  # the Responses API has no expiry: the emulator fails the response
    user, rec = await make_chat(scripted(turn, Reply("recovered")))
    with pytest.raises(ExchangeFailedError) as info:
        await user.ask("first")
    assert info.value.status == status
    assert status in str(info.value)
    assert rec.states[-1] == "failed"
    assert len(rec.of(ExchangeFailed)) == 1
    assert await user.ask("second") == "recovered"
    assert rec.states[-1] == "completed"


async def test_deadline_cancels_the_run_and_next_message_works(make_chat: ChatFactory) -> None:
    # The deadline must fall after the run exists, and the next exchange must fit in it too;
    # on a busy machine either can take longer than a short deadline, so the whole scenario
    # is tried again with the deadline doubled until it had a run to cancel and room to answer.
    deadline_s = 0.3
    while True:
        assert deadline_s < 60, "no deadline was long enough for a run to exist and answer"
        policy = ExchangePolicy(
            deadline_s=deadline_s, poll_initial_s=0.01, poll_max_s=0.05, cancel_timeout_s=2.0
        )
        user, rec = await make_chat(scripted(Stall(), Reply("after the stall")), policy=policy)
        with pytest.raises(ExchangeTimeoutError) as info:
            await user.ask("this will stall")
        stalled_run = info.value.run_id
        deadline_s *= 2
        if stalled_run is None:
            continue
        assert rec.states[-1] == "failed"
        # The run was cancelled at the API, so the thread takes the next message.
        backend = user._mediator._assistant.backend  # type: ignore[attr-defined, union-attr]
        run = await backend.get_run(user.conversation_id, stalled_run)
        assert run.status.value in ("cancelling", "cancelled")
        try:
            assert await user.ask("again") == "after the stall"
        except ExchangeTimeoutError:
            continue
        return


async def test_user_cancel_ends_exchange_cancelled(make_chat: ChatFactory) -> None:
    model = scripted(Stall(), Reply("fine"))
    user, rec = await make_chat(model)
    user.send_user_message("stall please")
    await rec.wait_for_state("started")
    # Cancel once the model has taken the Stall turn: a run cancelled while still queued
    # never asks the model, and the next run would then be the one that stalls.
    async with asyncio.timeout(5):
        for _ in itertools.count():
            if model.used:
                break
            await asyncio.sleep(0.01)
    await user.cancel()
    with pytest.raises(ExchangeCancelledError):
        await user.get_assistant_message()
    assert rec.states[-1] == "cancelled"
    assert await user.ask("next") == "fine"


async def test_sending_while_busy_is_rejected_clearly(make_chat: ChatFactory) -> None:
    user, _ = await make_chat(scripted(Reply("slow", delay=0.2)))
    user.send_user_message("one")
    with pytest.raises(ConversationBusyError):
        user.send_user_message("two")
    assert await user.get_assistant_message() == "slow"


async def test_get_without_send_is_an_error(make_chat: ChatFactory) -> None:
    user, _ = await make_chat(scripted(Reply("x")))
    with pytest.raises(RuntimeError, match="send_user_message"):
        await user.get_assistant_message()


@pytest.mark.parametrize("text", ["", "   ", None])
async def test_empty_message_is_rejected(make_chat: ChatFactory, text: object) -> None:
    user, _ = await make_chat(scripted(Reply("x")))
    with pytest.raises(ValueError, match="non-empty"):
        user.send_user_message(text)  # type: ignore[arg-type]


RUN_READ_PATH = {"assistants": r"/threads/[^/]+/runs/[^/]+", "responses": r"/responses/[^/]+"}


@pytest.mark.parametrize("delivery", ["poll"])
async def test_transient_server_errors_while_polling_are_retried(
    make_chat: ChatFactory, emulator: object, protocol: str
) -> None:
    from emulator import Fault

    user, rec = await make_chat(scripted(Reply("patient", delay=0.1)), max_retries=0)
    flaky = Fault(method="GET", path=RUN_READ_PATH[protocol], status=503, times=3)
    emulator.faults.add(flaky)  # type: ignore[attr-defined]
    try:
        assert await user.ask("hello") == "patient"
        assert emulator.faults.fired(flaky) == 3  # type: ignore[attr-defined]
    finally:
        emulator.faults.clear()  # type: ignore[attr-defined]
    assert rec.states[-1] == "completed"


STREAM_PATHS = {
    "assistants": r"/threads/[^/]+/runs(/[^/]+/submit_tool_outputs)?",
    "responses": r"/responses",
}


@pytest.mark.parametrize("delivery", ["stream"])
async def test_dropped_streams_fall_back_to_polling_without_repeating_tools(
    make_chat: ChatFactory, emulator: object, protocol: str
) -> None:
    from emulator import Fault

    user, rec = await make_chat(
        scripted(
            CallTools([ToolSpec("get_stock_price", {"symbol": "AAPL"})], delay=0.05),
            Reply("after two drops", delay=0.05),
        )
    )
    # Both streams of the exchange (the run's, then the tool outputs') break half-way.
    cut = Fault(
        method="POST", path=STREAM_PATHS[protocol], status=None, cut_after_chunks=2, times=2
    )
    emulator.faults.add(cut)  # type: ignore[attr-defined]
    try:
        assert await user.ask("price of AAPL") == "after two drops"
        assert emulator.faults.fired(cut) == 2  # type: ignore[attr-defined]
    finally:
        emulator.faults.clear()  # type: ignore[attr-defined]
    assert len(rec.of(ToolExecuted)) == 1
    assert rec.states[-1] == "completed"


RUN_CREATE_PATH = {"assistants": r"/threads/[^/]+/runs", "responses": r"/responses"}


async def test_unrecoverable_api_error_fails_exchange_clearly(
    make_chat: ChatFactory, emulator: object, protocol: str
) -> None:
    from emulator import Fault

    user, rec = await make_chat(scripted(Reply("later")), max_retries=0)
    refused = Fault(method="POST", path=RUN_CREATE_PATH[protocol], status=401, times=1)
    emulator.faults.add(refused)  # type: ignore[attr-defined]
    try:
        with pytest.raises(ExchangeFailedError, match="API call failed"):
            await user.ask("hello")
    finally:
        emulator.faults.clear()  # type: ignore[attr-defined]
    assert rec.states[-1] == "failed"
    assert await user.ask("again") == "later"


async def test_reply_is_this_runs_text_not_the_newest_thread_message(
    make_chat: ChatFactory,
) -> None:
    user, _ = await make_chat(scripted(Reply("first answer"), Reply("second answer")))
    assert await user.ask("one") == "first answer"
    assert await user.ask("two") == "second answer"
