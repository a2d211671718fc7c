"""The demo stock model through the Responses API, and conversations across a restart."""

from __future__ import annotations

from pathlib import Path

from openai import OpenAI
from openai.types.responses import Response

from emulator import (
    CallTools,
    DemoStockModel,
    EmulatorServer,
    Reply,
    ScriptedModel,
    ToolSpec,
    Turn,
    TurnContext,
)

from .conftest import make_client
from .responses_helpers import (
    STOCK_TOOLS,
    calls,
    outputs,
    stock_tools_output,
    wait_finished,
)


def test_demo_buy_or_sell_flow_in_a_conversation(client: OpenAI, server: EmulatorServer) -> None:
    server.model = DemoStockModel()
    conversation = client.conversations.create()

    def ask(input_items: object) -> Response:
        return client.responses.create(
            model="offline-demo",
            input=input_items,  # type: ignore[arg-type]
            tools=STOCK_TOOLS,
            conversation=conversation.id,
        )

    prices = ask("Should I buy MSFT and TSLA?")
    assert calls(prices) == [
        ("get_stock_price", {"symbol": "MSFT"}),
        ("get_stock_price", {"symbol": "TSLA"}),
    ]
    advice = ask(outputs(prices, stock_tools_output))
    assert calls(advice) == [
        ("buy_or_sell", {"symbol": "MSFT", "price": 410.5}),
        ("buy_or_sell", {"symbol": "TSLA", "price": 180.25}),
    ]
    reply = ask(outputs(advice, stock_tools_output))
    assert calls(reply) == []
    assert "MSFT" in reply.output_text
    assert "buy" in reply.output_text
    assert "TSLA" in reply.output_text
    assert "hold" in reply.output_text

    # A follow-up without a ticker reuses the tickers of the conversation.
    follow_up = ask("and what is the price now?")
    assert [args["symbol"] for _, args in calls(follow_up)] == ["MSFT", "TSLA"]


def test_demo_flow_by_previous_response_id_in_the_background(
    client: OpenAI, server: EmulatorServer
) -> None:
    server.model = DemoStockModel()
    previous: str | None = None
    input_items: object = "Should I sell AAPL?"
    for _ in range(3):
        started = client.responses.create(
            model="offline-demo",
            input=input_items,  # type: ignore[arg-type]
            tools=STOCK_TOOLS,
            previous_response_id=previous,
            background=True,
        )
        response = wait_finished(client, started.id)
        previous = response.id
        input_items = outputs(response, stock_tools_output)
    assert "AAPL" in response.output_text
    assert "hold" in response.output_text


def test_demo_model_without_the_tools_says_so(client: OpenAI, server: EmulatorServer) -> None:
    server.model = DemoStockModel()
    response = client.responses.create(model="m", input="Should I buy MSFT?", tools=STOCK_TOOLS[:1])
    assert "buy_or_sell" in response.output_text


def test_conversation_and_responses_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "emulator.json"
    first_model = ScriptedModel(
        [CallTools([ToolSpec("a", {"n": 1})]), Reply("streamed"), Reply("never", delay=5)]
    )
    with EmulatorServer(first_model, state_file=path) as first, make_client(first) as client:
        conversation = client.conversations.create(metadata={"who": "me"})
        paused = client.responses.create(
            model="m", input="go", conversation=conversation.id, tools=STOCK_TOOLS
        )
        streamed = list(client.responses.create(model="m", input="x", background=True, stream=True))
        running = client.responses.create(model="m", input="slow", background=True)
        assert running.status == "queued"

    def second_model(context: TurnContext) -> Turn:
        return Reply("resumed" if context.last_user_text == "slow" else "after restart")

    with EmulatorServer(second_model, state_file=path) as second, make_client(second) as client:
        assert client.conversations.retrieve(conversation.id).metadata == {"who": "me"}
        again = client.responses.retrieve(paused.id)
        assert calls(again) == [("a", {"n": 1})]
        done = client.responses.create(
            model="m", input=outputs(again), conversation=conversation.id, tools=STOCK_TOOLS
        )
        assert done.output_text == "after restart"
        items = client.conversations.items.list(conversation.id, order="asc").data
        assert [item.type for item in items] == [
            "message",
            "function_call",
            "function_call_output",
            "message",
        ]
        # The response that was running when the server stopped runs again and finishes.
        assert wait_finished(client, running.id).output_text == "resumed"
        # A finished background stream is replayed, rebuilt from the saved response.
        replay = list(client.responses.retrieve(streamed[0].response.id, stream=True))
        assert [e.type for e in replay][0] == "response.created"
        assert [e.type for e in replay][-1] == streamed[-1].type
