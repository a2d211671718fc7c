"""The pure parts of the stateless backends: history units, the token budget, the assembly of
streamed Chat Completions tool calls, and the journal as a history source."""

from __future__ import annotations

import json
from types import SimpleNamespace

from conversation.history import JournalHistory
from mediator.journal import MemoryJournal
from proxies.backends.budget import ContextBudget, unit_tokens
from proxies.backends.chat_completions import chat_messages
from proxies.backends.chat_deltas import ToolCallAssembler
from proxies.backends.history import (
    CANCELLED_OUTPUT,
    Answered,
    Called,
    Said,
    ToolRound,
    tool_rounds,
)
from proxies.backends.responses_stateless import input_items
from tools.types import ToolCall, ToolResult


def _delta(index: int | None, *, id: str | None = None, name: str | None = None, args: str = ""):
    return SimpleNamespace(
        index=index, id=id, function=SimpleNamespace(name=name, arguments=args or None)
    )


def test_one_character_deltas_of_two_interleaved_calls_assemble_exactly() -> None:
    first = json.dumps({"symbol": "AAPL", "note": 'ünïcode, "quotes" and {braces}'})
    second = json.dumps({"symbol": "MSFT", "price": 412.5})
    assembler = ToolCallAssembler()
    assembler.add(_delta(0, id="call_a", name="get_stock_price"))
    assembler.add(_delta(1, id="call_b", name="buy_or_sell"))
    for step in range(max(len(first), len(second))):
        if step < len(second):  # the second call's piece first: order within a step varies
            assembler.add(_delta(1, args=second[step]))
        if step < len(first):
            assembler.add(_delta(0, args=first[step]))
    assert assembler.calls() == (
        ToolCall("call_a", "get_stock_price", first),
        ToolCall("call_b", "buy_or_sell", second),
    )


def test_deltas_without_index_follow_the_id_or_the_newest_call() -> None:
    assembler = ToolCallAssembler()
    assembler.add(_delta(None, id="call_x", name="f", args='{"a"'))
    assembler.add(_delta(None, args=": 1}"))
    assembler.add(_delta(None, id="call_y", name="g", args="{}"))
    assert assembler.calls() == (ToolCall("call_x", "f", '{"a": 1}'), ToolCall("call_y", "g", "{}"))


def test_every_call_goes_out_with_its_output_and_strays_are_dropped() -> None:
    items = [
        Said("user", "hi"),
        Called("c1", "f", "{}"),
        Called("c2", "g", "{}"),
        Answered("c2", "two"),
        Answered("c1", "one"),
        Answered("c_gone", "nobody asked"),
        Called("c3", "h", "{}"),  # never answered (the exchange was cancelled)
        Said("user", "next"),
    ]
    units = tool_rounds(items)
    assert units[0] == Said("user", "hi")
    assert units[1] == ToolRound(
        (items[1], items[2]),
        (Answered("c1", "one"), Answered("c2", "two")),  # type: ignore[arg-type]
    )
    assert isinstance(units[2], ToolRound)
    assert units[2].outputs == (Answered("c3", CANCELLED_OUTPUT),)
    assert units[3] == Said("user", "next")
    sent = input_items(units)
    calls = [i["call_id"] for i in sent if i.get("type") == "function_call"]
    outputs = [i["call_id"] for i in sent if i.get("type") == "function_call_output"]
    assert calls == outputs == ["c1", "c2", "c3"]
    messages = chat_messages("be brief", units)
    assert [m["role"] for m in messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
        "tool",
        "user",
    ]


def test_budget_drops_the_oldest_turns_whole_and_keeps_the_newest() -> None:
    def turn(n: int) -> list[object]:
        return [
            Said("user", f"question {n} " * 5),
            ToolRound((Called(f"c{n}", "f", "{}"),), (Answered(f"c{n}", "x" * 60),)),
            Said("assistant", f"answer {n} " * 5),
        ]

    units = [u for n in range(10) for u in turn(n)]
    per_turn = sum(unit_tokens(u) for u in turn(0))  # type: ignore[arg-type]
    budget = ContextBudget(max_tokens=per_turn * 3 + 10)
    kept = budget.fit(units, fixed=10)  # type: ignore[arg-type]
    assert sum(unit_tokens(u) for u in kept) + 10 <= budget.max_tokens
    assert kept == [u for n in (7, 8, 9) for u in turn(n)]


def test_an_oversized_newest_turn_keeps_its_question_and_its_last_round() -> None:
    rounds = [
        ToolRound((Called(f"c{n}", "f", "{}"),), (Answered(f"c{n}", "y" * 300),)) for n in range(4)
    ]
    units = [Said("user", "q"), *rounds]
    kept = ContextBudget(max_tokens=150).fit(units, fixed=0)  # type: ignore[arg-type]
    assert kept == [Said("user", "q"), rounds[-1]]


def test_the_journal_gives_the_conversation_in_order_open_calls_included() -> None:
    journal = MemoryJournal()
    journal.exchange_started("conv", "ex1", "asst", "price?")
    journal.calls_started("ex1", [ToolCall("c1", "get_stock_price", '{"symbol": "AAPL"}')])
    journal.calls_finished("ex1", [ToolResult("c1", "get_stock_price", "190")])
    journal.exchange_ended("ex1", "completed", "AAPL is at 190.")
    journal.exchange_started("other", "exX", "asst", "elsewhere")
    journal.exchange_started("conv", "ex2", "asst", "buy?")
    journal.calls_started("ex2", [ToolCall("c2", "buy_or_sell", "{}")])
    assert JournalHistory(journal).items("conv") == [
        Said("user", "price?", "ex1"),
        Called("c1", "get_stock_price", '{"symbol": "AAPL"}', "ex1"),
        Answered("c1", "190", "ex1"),
        Said("assistant", "AAPL is at 190.", "ex1"),
        Said("user", "buy?", "ex2"),
        Called("c2", "buy_or_sell", "{}", "ex2"),
    ]
