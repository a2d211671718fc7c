"""`DemoStockModel`: the default, offline stand-in for a real model.

It answers the newest user message of the thread:

- a price question ("What is AAPL trading at?", "price of apple and tesla") -> one turn of
  parallel ``get_stock_price`` calls, then a reply quoting the outputs;
- a buy/sell/hold question ("Should I buy MSFT and TSLA?") -> parallel ``get_stock_price``
  calls, then parallel ``buy_or_sell`` calls with the prices, then a reply;
- a follow-up without a ticker ("and should I sell it?") -> the tickers the user mentioned last;
- anything else -> a plain reply saying what this demo can do.

It only calls tools the assistant has, and never raises on odd tool outputs: the reply then
says the tool reported an error and quotes it.
"""

from __future__ import annotations

from ..common.turns import (
    CallTools,
    Reply,
    ThreadMessage,
    ToolExchange,
    ToolSpec,
    Turn,
    TurnContext,
)
from .text import (
    Advice,
    Intent,
    Quote,
    find_intent,
    find_symbols,
    parse_advice,
    parse_quote,
    symbols_of,
)

__all__ = ["DemoStockModel"]

PRICE_TOOL = "get_stock_price"
ADVICE_TOOL = "buy_or_sell"

HELP_TEXT = (
    "I am an offline demo model: I can only look up stock prices and give toy buy/sell/hold "
    'advice. Try for example: "What is the price of AAPL?" or "Should I buy MSFT and TSLA?"'
)
WHICH_STOCK_TEXT = (
    "Which stock do you mean? Name a ticker such as AAPL or a company such as Apple, "
    'for example: "Should I buy Apple?"'
)
TOY_ADVICE_NOTE = "(Toy advice from an offline demo, not financial advice.)"


class DemoStockModel:
    """Stock prices and toy advice through the two demo tools; stateless and thread-safe."""

    def decide(self, context: TurnContext) -> Turn:
        text = context.last_user_text
        if text is None:
            return Reply(HELP_TEXT)
        intent, symbols = _request(text, context.messages)
        if intent is None:
            return Reply(HELP_TEXT)
        if not symbols:
            return Reply(WHICH_STOCK_TEXT)
        needed = [PRICE_TOOL] if intent == "price" else [PRICE_TOOL, ADVICE_TOOL]
        missing = [name for name in needed if name not in context.tool_names]
        if missing:
            return Reply(_missing_tools_text(missing))
        price_turn = _last_turn_of(context, PRICE_TOOL)
        if price_turn is None:
            return CallTools([ToolSpec(PRICE_TOOL, {"symbol": s}) for s in symbols])
        quotes = _quotes(price_turn, symbols)
        if intent == "price":
            return Reply("\n".join(quote.line for quote in quotes))
        advice_turn = _last_turn_of(context, ADVICE_TOOL)
        priced = [quote for quote in quotes if quote.price is not None]
        if advice_turn is None and priced:
            return CallTools(
                [ToolSpec(ADVICE_TOOL, {"symbol": q.symbol, "price": q.price}) for q in priced]
            )
        return Reply(_advice_text(quotes, advice_turn or ()))

    def __repr__(self) -> str:
        return "DemoStockModel()"


def _request(text: str, messages: tuple[ThreadMessage, ...]) -> tuple[Intent | None, list[str]]:
    """What the newest user message asks, filling a missing ticker or intent from history."""
    intent = find_intent(text)
    symbols = find_symbols(text)
    earlier = [m.text for m in messages if m.role == "user"][:-1]
    if symbols and intent is None:
        intent = next((i for i in map(find_intent, reversed(earlier)) if i), "price")
    if intent is not None and not symbols:
        symbols = next((s for s in map(find_symbols, reversed(earlier)) if s), [])
    return intent, symbols


def _missing_tools_text(missing: list[str]) -> str:
    names = " and ".join(missing)
    noun = "tool" if len(missing) == 1 else "tools"
    return (
        f"This assistant does not have the {names} {noun}, so I cannot answer that. "
        "Give the assistant the stock tools and ask again."
    )


def _last_turn_of(context: TurnContext, tool: str) -> tuple[ToolExchange, ...] | None:
    for turn in reversed(context.tool_turns):
        if any(call.name == tool for call in turn):
            return tuple(call for call in turn if call.name == tool)
    return None


def _quotes(turn: tuple[ToolExchange, ...], fallback: list[str]) -> list[Quote]:
    symbols = symbols_of(call.arguments for call in turn)
    quotes = []
    for index, (call, symbol) in enumerate(zip(turn, symbols, strict=True)):
        name = symbol or (fallback[index] if index < len(fallback) else call.call_id)
        quotes.append(parse_quote(name.upper(), call.output))
    return quotes


def _advice_text(quotes: list[Quote], turn: tuple[ToolExchange, ...]) -> str:
    outputs: dict[str, str | None] = {}
    for call, symbol in zip(turn, symbols_of(call.arguments for call in turn), strict=True):
        outputs[(symbol or call.call_id).upper()] = call.output
    lines: list[str] = []
    advised = False
    for quote in quotes:
        if quote.price is None:
            lines.append(quote.line)
            continue
        advice: Advice = parse_advice(quote, outputs.get(quote.symbol))
        advised = advised or advice.error is None
        lines.append(advice.line)
    if advised:
        lines.append(TOY_ADVICE_NOTE)
    return "\n".join(lines)
