"""DemoStockModel: whole conversations through the SDK, plus its text handling in isolation."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest
from openai import OpenAI
from openai.types.beta.threads import Run
from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput

from emulator import DEMO_ASSISTANT_ID, DemoStockModel, Reply, TurnContext
from emulator.common.turns import CallTools, ThreadMessage, ToolExchange
from emulator.demo.text import find_intent, find_symbols, parse_quote

from .helpers import reply_text

Tools = Callable[[str, dict[str, object]], str]


def fake_tools(name: str, arguments: dict[str, object]) -> str:
    symbol = arguments["symbol"]
    if name == "get_stock_price":
        price = {"AAPL": 187.32, "MSFT": 402.1, "TSLA": 251.05}.get(str(symbol), 10.0)
        return json.dumps(
            {"symbol": symbol, "price": price, "currency": "USD", "source": "simulated"}
        )
    rec = "hold" if symbol == "MSFT" else "buy"
    return json.dumps(
        {"symbol": symbol, "price": arguments["price"], "recommendation": rec, "reason": "toy rule"}
    )


class Conversation:
    """Drives one thread like an app would: send text, execute tool calls, return the reply."""

    def __init__(self, client: OpenAI, assistant_id: str = DEMO_ASSISTANT_ID) -> None:
        self.client = client
        self.assistant_id = assistant_id
        self.thread = client.beta.threads.create()
        self.turns: list[list[tuple[str, dict[str, object]]]] = []

    def ask(self, text: str, tools: Tools = fake_tools) -> str:
        runs = self.client.beta.threads.runs
        self.client.beta.threads.messages.create(
            thread_id=self.thread.id, role="user", content=text
        )
        run: Run = runs.create_and_poll(
            thread_id=self.thread.id, assistant_id=self.assistant_id, poll_interval_ms=10
        )
        while run.status == "requires_action":
            assert run.required_action is not None
            calls = run.required_action.submit_tool_outputs.tool_calls
            parsed = [(c.function.name, json.loads(c.function.arguments)) for c in calls]
            self.turns.append(parsed)
            outputs: list[ToolOutput] = [
                {"tool_call_id": c.id, "output": tools(name, args)}
                for c, (name, args) in zip(calls, parsed, strict=True)
            ]
            run = runs.submit_tool_outputs_and_poll(
                run_id=run.id, thread_id=self.thread.id, tool_outputs=outputs, poll_interval_ms=10
            )
        assert run.status == "completed", run
        return reply_text(self.client, run)


def test_price_question_calls_get_stock_price_then_quotes_it(client: OpenAI) -> None:
    chat = Conversation(client)
    reply = chat.ask("What is the price of AAPL?")
    assert chat.turns == [[("get_stock_price", {"symbol": "AAPL"})]]
    assert reply == "AAPL is trading at 187.32 USD (simulated quote)."


def test_buy_question_with_two_tickers_makes_parallel_calls_in_two_turns(client: OpenAI) -> None:
    chat = Conversation(client)
    reply = chat.ask("Should I buy MSFT and tesla?")
    assert chat.turns == [
        [("get_stock_price", {"symbol": "MSFT"}), ("get_stock_price", {"symbol": "TSLA"})],
        [
            ("buy_or_sell", {"symbol": "MSFT", "price": 402.1}),
            ("buy_or_sell", {"symbol": "TSLA", "price": 251.05}),
        ],
    ]
    assert "For MSFT at 402.10 USD: hold — toy rule" in reply
    assert "For TSLA at 251.05 USD: buy — toy rule" in reply


def test_follow_up_without_ticker_uses_the_last_mentioned_ones(client: OpenAI) -> None:
    chat = Conversation(client)
    chat.ask("How much is Apple?")
    reply = chat.ask("and should I sell it?")
    # The price quoted a turn ago is used, not looked up again.
    assert chat.turns == [
        [("get_stock_price", {"symbol": "AAPL"})],
        [("buy_or_sell", {"symbol": "AAPL", "price": 187.32})],
    ]
    assert reply.startswith("Selling AAPL is not what the tool advises. For AAPL at 187.32 USD")
    assert "as quoted earlier in this conversation" in reply


def test_tool_error_output_is_reported_plainly(client: OpenAI) -> None:
    def failing(name: str, arguments: dict[str, object]) -> str:
        if arguments["symbol"] == "MSFT":
            return json.dumps({"error": {"type": "timeout", "message": "quote service timed out"}})
        return fake_tools(name, arguments)

    chat = Conversation(client)
    reply = chat.ask("Should I buy MSFT or AAPL?", tools=failing)
    assert "The get_stock_price tool reported an error for MSFT: quote service timed out" in reply
    assert "For AAPL at 187.32 USD: buy" in reply
    assert chat.turns[-1] == [("buy_or_sell", {"symbol": "AAPL", "price": 187.32})]


@pytest.mark.parametrize("output", ["not json at all", "[1, 2]", "{}", '{"price": "cheap"}', ""])
def test_garbage_tool_output_never_crashes(client: OpenAI, output: str) -> None:
    chat = Conversation(client)
    reply = chat.ask("price of NVDA", tools=lambda name, arguments: output)
    assert reply.startswith("The get_stock_price tool reported an error for NVDA:")


def test_unrelated_question_gets_the_offline_demo_reply(client: OpenAI) -> None:
    chat = Conversation(client)
    reply = chat.ask("Tell me a joke about cats.")
    assert chat.turns == []
    assert "offline demo model" in reply
    assert "stock prices" in reply


def test_assistant_without_the_tools_says_so(client: OpenAI) -> None:
    bare = client.beta.assistants.create(model="m", name="no tools")
    chat = Conversation(client, bare.id)
    reply = chat.ask("What is MSFT trading at?")
    assert chat.turns == []
    assert "does not have the get_stock_price tool" in reply


@pytest.mark.parametrize(
    ("text", "symbols"),
    [
        ("Should I buy MSFT and TSLA?", ["MSFT", "TSLA"]),
        ("price of apple, Google and facebook", ["AAPL", "GOOGL", "META"]),
        ("Is nvda a buy? What about $AMD?", ["NVDA", "AMD"]),
        ("I think A is fine", []),
        ("What about XYZ?", ["XYZ"]),
        ("hello there", []),
        ("WHAT IS THE PRICE OF AAPL", ["AAPL"]),
    ],
)
def test_find_symbols(text: str, symbols: list[str]) -> None:
    assert find_symbols(text) == symbols


def test_find_intent() -> None:
    assert find_intent("should I sell it?") == "advice"
    assert find_intent("how much is it") == "price"
    assert find_intent("tell me a joke") is None


def test_parse_quote_is_total() -> None:
    assert parse_quote("X", None).error
    assert parse_quote("X", "NaN").error
    assert parse_quote("X", '{"price": true}').error
    assert parse_quote("X", '{"error": "down"}').error == "down"
    assert parse_quote("X", '{"price": 3, "source": "yahoo"}').line == "X is trading at 3.00 USD."


def test_decide_directly_on_a_context() -> None:
    model = DemoStockModel()
    base = TurnContext(
        thread_id="t",
        run_id="r",
        assistant_id="a",
        instructions="",
        tool_names=("get_stock_price", "buy_or_sell"),
        messages=(ThreadMessage("user", "quote for MSFT please"),),
    )
    first = model.decide(base)
    assert isinstance(first, CallTools)
    assert [c.arguments for c in first.calls] == [{"symbol": "MSFT"}]
    price_turn = (ToolExchange("c1", "get_stock_price", '{"symbol": "MSFT"}', "oops"),)
    answered = dataclasses.replace(base, tool_turns=(price_turn,))
    second = model.decide(answered)
    assert isinstance(second, Reply)
    assert "error for MSFT" in second.text
    assert isinstance(model.decide(TurnContext("t", "r", "a", "", (), ())), Reply)


# -- issue 14 point 5: tool outputs in the shapes real clients return ---------------------------
@pytest.mark.parametrize("output", ["123.45", '"123.45"', "{'price': 123.45}", '{"price": 123.45}'])
def test_demo_reads_prices_in_every_common_shape(client: OpenAI, output: str) -> None:
    chat = Conversation(client)
    reply = chat.ask("price of AAPL?", tools=lambda name, arguments: output)
    assert reply.startswith("AAPL is trading at 123.45 USD")


# -- issue 15 point 16: what a newcomer typed -----------------------------------------------------
def test_accented_company_name_is_not_a_ticker() -> None:
    assert find_symbols("Should I buy Société Générale?") == []
    assert find_symbols("Should I buy Société Générale or MSFT?") == ["MSFT"]


def test_unknown_ticker_is_looked_up_and_the_tool_error_is_reported(client: OpenAI) -> None:
    def tools(name: str, arguments: dict[str, object]) -> str:
        if arguments["symbol"] == "ZZZZZ":
            return json.dumps({"error": {"type": "unknown_symbol", "message": "no such ticker"}})
        return fake_tools(name, arguments)

    chat = Conversation(client)
    reply = chat.ask("What is ZZZZZ trading at?", tools=tools)
    assert chat.turns == [[("get_stock_price", {"symbol": "ZZZZZ"})]]
    assert (
        reply
        == "The get_stock_price tool reported an error for ZZZZZ: no such ticker (unknown_symbol)"
    )


def test_shouted_filler_words_do_not_reuse_the_previous_ticker(client: OpenAI) -> None:
    chat = Conversation(client)
    chat.ask("Should I buy MSFT?")
    reply = chat.ask("I think I'll buy A lot OF stuff")
    assert reply.startswith("Which stock do you mean?")
    assert len(chat.turns) == 2  # only the MSFT exchange called tools


def test_sell_follow_up_uses_known_prices_and_answers_the_new_question(client: OpenAI) -> None:
    chat = Conversation(client)
    first = chat.ask("Should I buy MSFT and TSLA?")
    second = chat.ask("and should I sell it?")
    assert chat.turns[2:] == [
        [
            ("buy_or_sell", {"symbol": "MSFT", "price": 402.1}),
            ("buy_or_sell", {"symbol": "TSLA", "price": 251.05}),
        ]
    ]
    assert second != first
    assert "Selling TSLA is not what the tool advises" in second
    assert "as quoted earlier in this conversation" in second


def test_a_fresh_price_question_after_advice_looks_up_again(client: OpenAI) -> None:
    chat = Conversation(client)
    chat.ask("Should I buy MSFT?")
    chat.ask("and what is the price now?")
    assert chat.turns[-1] == [("get_stock_price", {"symbol": "MSFT"})]
