"""The stateless backends against the emulator's server profiles, over real HTTP: a long
conversation within a small token budget, tool calls streamed in one-character deltas,
chaining with `previous_response_id` and its fallback to replay, and a resumed exchange
replayed from the journal with no tool run twice."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import conversation
from conversation.demo import demo_definition
from conversation.settings import Settings, load_settings
from conversation.wiring import wire_to_server
from emulator import CallTools, EmulatorServer, Fault, Reply, ScriptedModel, ToolSpec, TurnContext
from mediator.events import ToolExecuted, UsageReported
from persistence import DatabaseJournal, shared_engine
from proxies.backends.budget import ContextBudget, unit_tokens
from proxies.backends.history import Answered, Called, Said, ToolRound
from tests.integration.conftest import FAST_POLICY, Recorder
from tools import ToolCall, ToolRegistry, ToolResult, demo_registry, function_tool


def _settings(**values: str) -> Settings:
    environ = {"DATABASE_URL": os.environ["DATABASE_URL"], "QUOTE_SOURCE": "simulated"}
    return load_settings({**environ, **values}, dotenv_path=None)


@pytest.fixture
def stateless() -> Iterator[EmulatorServer]:
    with EmulatorServer(profile="stateless", queue_delay=0.0) as server:
        yield server


def _tokens_sent(context: TurnContext, budget: ContextBudget) -> int:
    """What the request behind `context` cost, counted as the backend counts."""
    definition = demo_definition()
    units: list[object] = [Said(m.role, m.text) for m in context.messages]  # type: ignore[arg-type]
    for call in (*context.earlier_tool_calls, *context.tool_calls):
        units.append(
            ToolRound(
                (Called(call.call_id, call.name, call.arguments),),
                (Answered(call.call_id, call.output or ""),),
            )
        )
    fixed = budget.fixed_cost(definition.instructions, definition.tools)
    return fixed + sum(unit_tokens(u) for u in units)  # type: ignore[arg-type]


async def test_forty_turns_fit_a_small_budget_and_the_model_sees_the_latest(
    stateless: EmulatorServer,
) -> None:
    contexts: list[TurnContext] = []

    def model(context: TurnContext) -> CallTools | Reply:
        contexts.append(context)
        if not context.tool_calls:
            return CallTools([ToolSpec("get_stock_price", {"symbol": "AAPL"})])
        return Reply(f"Noted: {context.last_user_text}")

    stateless.model = model
    budget = 900
    user = wire_to_server(
        stateless.base_url,
        protocol="responses-stateless",
        registry=demo_registry(quote_source="simulated"),
        policy=FAST_POLICY,
        strict=True,
        # The journal in memory (recording off): this test is about what is sent, not kept.
        settings=_settings(MAX_CONTEXT_TOKENS=str(budget), RECORD_EVENTS="false"),
    )
    try:
        for turn in range(40):
            assert await user.ask(f"message {turn}") == f"Noted: message {turn}"
    finally:
        await user.aclose()
    assert len(contexts) == 80
    counter = ContextBudget(budget)
    assert max(_tokens_sent(c, counter) for c in contexts) <= budget
    for context in contexts:  # a call never went out without its output
        assert all(c.output is not None for c in (*context.earlier_tool_calls, *context.tool_calls))
    last = contexts[-1]
    seen = [m.text for m in last.messages]
    assert seen[-1] == "message 39"
    assert "message 38" in seen
    assert "Noted: message 38" in seen
    assert "message 0" not in seen  # the oldest went
    assert last.instructions == demo_definition().instructions


async def test_one_character_tool_call_deltas_of_interleaved_calls_are_assembled_exactly() -> None:
    price = {"symbol": "AAPL"}
    trade = {"symbol": "MSFT", "price": 412.5}
    model = ScriptedModel(
        [
            CallTools([ToolSpec("get_stock_price", price), ToolSpec("buy_or_sell", trade)]),
            Reply("both done"),
        ]
    )
    with EmulatorServer(
        model, profile="chat", queue_delay=0.0, chat_argument_piece=1, chat_interleave=True
    ) as server:
        user = wire_to_server(
            server.base_url,
            protocol="chat",
            registry=demo_registry(quote_source="simulated"),
            policy=FAST_POLICY,
            strict=True,
        )
        recorder = Recorder()
        try:
            with user.on_event(recorder):
                assert await user.ask("price and trade") == "both done"
        finally:
            await user.aclose()
    executed = [e.call for e in recorder.of(ToolExecuted)]  # type: ignore[attr-defined]
    assert [(c.name, json.loads(c.arguments)) for c in executed] == [
        ("get_stock_price", price),
        ("buy_or_sell", trade),
    ]
    (sent_back,) = model.contexts[1].tool_turns  # the calls as the client replayed them
    assert [json.loads(c.arguments) for c in sent_back] == [price, trade]
    assert all(c.output for c in sent_back)


async def test_chained_responses_send_only_what_is_new_and_replay_after_a_restart() -> None:
    model = ScriptedModel(
        [CallTools([ToolSpec("get_stock_price", {"symbol": "AAPL"})]), Reply("one"), Reply("two")]
    )
    with EmulatorServer(model, profile="chained", queue_delay=0.0) as server:
        user = wire_to_server(
            server.base_url,
            protocol="auto",
            registry=demo_registry(quote_source="simulated"),
            policy=FAST_POLICY,
            strict=True,
        )
        try:
            assert await user.ask("first") == "one"
            assert await user.ask("second") == "two"
            async with httpx.AsyncClient(base_url=server.base_url) as http:
                latest = (await http.get(f"/responses/{model.contexts[-1].run_id}")).json()
                items = (await http.get(f"/responses/{latest['id']}/input_items")).json()
            assert latest["previous_response_id"] == model.contexts[-2].run_id
            assert [i["type"] for i in items["data"]] == ["message"]  # only the new message
            server.model = restarted = ScriptedModel([Reply("three")])
            server.restart()  # it forgets every response: the chain breaks
            assert await user.ask("third") == "three"
        finally:
            await user.aclose()
    (context,) = restarted.contexts
    assert [m.text for m in context.messages if m.role == "user"] == ["first", "second", "third"]
    assert [c.name for c in context.earlier_tool_calls] == ["get_stock_price"]


async def test_resume_on_a_stateless_server_replays_the_journal_and_runs_no_tool_twice(
    stateless: EmulatorServer, tmp_path: Path
) -> None:
    ran: list[str] = []

    @function_tool
    def place_order(symbol: str) -> str:
        """Place an order (not idempotent)."""
        ran.append(f"order {symbol}")
        return "ordered"

    @function_tool(idempotent=True)
    def check_price(symbol: str) -> str:
        """Look a price up."""
        ran.append(f"price {symbol}")
        return "190"

    url = f"sqlite:///{tmp_path / 'journal.db'}"
    journal = DatabaseJournal(shared_engine(url))
    # What a process that died left: an exchange that ended, and one interrupted after one
    # tool returned (its output journaled) and while another was running (no outcome).
    journal.exchange_started("conv_local_x", "ex0", "asst_demo_stock", "Price of AAPL?")
    journal.calls_started("ex0", [ToolCall("c0", "check_price", '{"symbol": "AAPL"}')])
    journal.calls_finished("ex0", [ToolResult("c0", "check_price", "190")])
    journal.exchange_ended("ex0", "completed", "AAPL is at 190.")
    journal.exchange_started("conv_local_x", "ex1", "asst_demo_stock", "Buy MSFT and AAPL")
    journal.calls_started(
        "ex1",
        [
            ToolCall("c1", "check_price", '{"symbol": "MSFT"}'),
            ToolCall("c2", "place_order", '{"symbol": "AAPL"}'),
        ],
    )
    journal.calls_finished("ex1", [ToolResult("c1", "check_price", "412")])
    model = ScriptedModel([Reply("finished"), Reply("next one")])
    stateless.model = model
    settings = _settings(
        DATABASE_URL=url,
        OPENAI_BASE_URL=stateless.base_url,
        ASSISTANT_BACKEND="responses-stateless",
    )
    user = conversation.resume_conversation(
        "conv_local_x",
        settings=settings,
        registry=ToolRegistry([place_order, check_price]),
        policy=FAST_POLICY,
    )
    try:
        assert user.interrupted is not None
        assert await user.get_assistant_message() == "finished"
        assert await user.ask("and now?") == "next one"
    finally:
        await user.aclose()
    assert ran == []  # c1's output was journaled; c2 may have placed its order: not again
    resumed = model.contexts[0]
    assert [m.text for m in resumed.messages] == [
        "Price of AAPL?",
        "AAPL is at 190.",
        "Buy MSFT and AAPL",
    ]
    outputs = {c.call_id: c.output or "" for c in resumed.tool_calls}
    assert outputs["c1"] == "412"
    assert json.loads(outputs["c2"])["error"]["type"] == "outcome_unknown"
    assert [m.text for m in model.contexts[1].messages][-2:] == ["finished", "and now?"]


@pytest.mark.parametrize(
    ("protocol", "profile", "path"),
    [
        ("responses-stateless", "stateless", "/responses"),
        ("chat", "chat", "/chat/completions"),
    ],
)
@pytest.mark.parametrize(
    ("fault", "model_turns"),
    [
        pytest.param({"reset": True}, 2, id="reset"),  # the request never reached the model
        pytest.param({"cut_at_byte": 600}, 3, id="cut-mid-stream"),  # it did: asked again
    ],
)
async def test_a_faulted_request_is_sent_again_and_each_tool_runs_once(
    protocol: str, profile: str, path: str, fault: dict[str, object], model_turns: int
) -> None:
    """Nothing is kept on a stateless server, so a failed request is simply sent again (the
    tool outputs' request here: the second of the exchange); the tool is not run again."""
    asked: list[TurnContext] = []

    def model(context: TurnContext) -> CallTools | Reply:  # answers from what it is sent
        asked.append(context)
        if not context.tool_calls:
            return CallTools([ToolSpec("get_stock_price", {"symbol": "AAPL"})])
        return Reply("x" * 400)

    with EmulatorServer(model, profile=profile, queue_delay=0.0) as server:
        faulted = server.faults.add(Fault(method="POST", path=path, nth=2, status=None, **fault))  # type: ignore[arg-type]
        user = wire_to_server(
            server.base_url,
            protocol=protocol,
            registry=demo_registry(quote_source="simulated"),
            policy=FAST_POLICY,
            strict=True,
        )
        recorder = Recorder()
        try:
            with user.on_event(recorder):
                reply = await user.ask("price?")
        finally:
            await user.aclose()
        assert server.faults.fired(faulted) == 1
    assert reply == "x" * 400
    assert len(recorder.of(ToolExecuted)) == 1
    assert recorder.states[-1] == "completed"
    assert len(asked) == model_turns


async def test_a_server_that_cannot_stream_gets_plain_requests() -> None:
    model = ScriptedModel(
        [CallTools([ToolSpec("get_stock_price", {"symbol": "AAPL"})]), Reply("plain")]
    )
    with EmulatorServer(model, profile="chat", queue_delay=0.0) as server:
        refused = server.faults.add(
            Fault(
                method="POST",
                path="/chat/completions",
                status=400,
                body_message="Streaming is not supported by this server.",
            )
        )
        user = wire_to_server(
            server.base_url,
            protocol="chat",
            delivery="stream",
            registry=demo_registry(quote_source="simulated"),
            policy=FAST_POLICY,
            strict=True,
        )
        recorder = Recorder()
        try:
            with user.on_event(recorder):
                assert await user.ask("price?") == "plain"
        finally:
            await user.aclose()
        assert server.faults.fired(refused) == 1
    assert model.used == 2
    assert recorder.states == [
        "ready", "started", "running", "requires_action", "tools_executed",
        "tool_outputs_submitted", "running", "completed",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("protocol", "profile", "delivery"),
    [("responses-stateless", "stateless", "stream"), ("chat", "chat", "stream"),
     ("chat", "chat", "poll")],
)  # fmt: skip
async def test_usage_is_reported_per_request_and_adds_up(
    protocol: str, profile: str, delivery: str
) -> None:
    model = ScriptedModel(
        [CallTools([ToolSpec("get_stock_price", {"symbol": "AAPL"})]), Reply("AAPL is fine.")]
    )
    with EmulatorServer(model, profile=profile, queue_delay=0.0) as server:
        user = wire_to_server(
            server.base_url,
            protocol=protocol,
            delivery=delivery,
            registry=demo_registry(quote_source="simulated"),
            policy=FAST_POLICY,
            strict=True,
        )
        recorder = Recorder()
        try:
            with user.on_event(recorder):
                await user.ask("price?")
        finally:
            await user.aclose()
    reports = [e for e in recorder.events if isinstance(e, UsageReported)]
    assert len(reports) == 2  # one per model request: the tool call, then the reply
    assert all(r.usage.input_tokens > 0 and r.usage.output_tokens > 0 for r in reports)
    assert all(r.model == demo_definition().model for r in reports)
    # The second request replays the first one's conversation: it reads more.
    assert reports[1].usage.input_tokens > reports[0].usage.input_tokens
