"""`DemoStockModel`: the default, offline stand-in for a real model.

It answers the newest user message of the thread:

- a price question ("What is AAPL trading at?", "price of apple and tesla") -> one turn of
  parallel ``get_stock_price`` calls, then a reply quoting the outputs;
- a buy/sell/hold question ("Should I buy MSFT and TSLA?") -> parallel ``get_stock_price``
  calls, then parallel ``buy_or_sell`` calls with the prices, then a reply;
- a follow-up without a ticker that refers back ("and should I sell it?") -> the tickers the
  user mentioned last, with the prices already known in the conversation (no new lookup);
- a ticker-less message that does not refer back ("I'll buy a lot of stuff") -> it asks which
  stock;
- anything else -> a plain reply saying what this demo can do.

Tickers are looked up one call each, in parallel, or one per turn when the request allows a
single call at a time. It only calls tools the assistant has, and never raises on odd tool
outputs: the reply then says the tool reported an error and quotes it.
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
    asked_action,
    find_intent,
    find_symbols,
    parse_advice,
    parse_quote,
    refers_back,
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
        intent, symbols, follow_up = _request(text, context.messages)
        if intent is None:
            return Reply(HELP_TEXT)
        if not symbols:
            return Reply(WHICH_STOCK_TEXT)
        needed = [PRICE_TOOL] if intent == "price" else [PRICE_TOOL, ADVICE_TOOL]
        missing = [name for name in needed if name not in context.tool_names]
        if missing:
            return Reply(_missing_tools_text(missing))
        now = _outputs(context.tool_calls, PRICE_TOOL)
        # Advice on stocks already quoted uses those prices; a price question looks up afresh.
        reuse = follow_up and intent == "advice"
        known = _outputs(context.earlier_tool_calls, PRICE_TOOL) if reuse else {}
        prices = {**known, **now}
        unpriced = [symbol for symbol in symbols if symbol not in prices]
        if unpriced:
            return CallTools([ToolSpec(PRICE_TOOL, {"symbol": s}) for s in unpriced])
        quotes = [parse_quote(symbol, prices[symbol]) for symbol in symbols]
        reused = [symbol for symbol in symbols if symbol not in now]
        if intent == "price":
            return Reply(_with_note("\n".join(quote.line for quote in quotes), reused))
        advice = _outputs(context.tool_calls, ADVICE_TOOL)
        unadvised = [q for q in quotes if q.price is not None and q.symbol not in advice]
        if unadvised:
            return CallTools(
                [ToolSpec(ADVICE_TOOL, {"symbol": q.symbol, "price": q.price}) for q in unadvised]
            )
        return Reply(_with_note(_advice_text(quotes, advice, asked_action(text)), reused))

    def __repr__(self) -> str:
        return "DemoStockModel()"


def _request(
    text: str, messages: tuple[ThreadMessage, ...]
) -> tuple[Intent | None, list[str], bool]:
    """What the newest user message asks, filling a missing ticker or intent from history; true
    as third value when the tickers came from history (a follow-up)."""
    intent = find_intent(text)
    symbols = find_symbols(text)
    earlier = [m.text for m in messages if m.role == "user"][:-1]
    if symbols and intent is None:
        intent = next((i for i in map(find_intent, reversed(earlier)) if i), "price")
    if intent is not None and not symbols and refers_back(text):
        symbols = next((s for s in map(find_symbols, reversed(earlier)) if s), [])
        return intent, symbols, True
    return intent, symbols, False


def _missing_tools_text(missing: list[str]) -> str:
    names = " and ".join(missing)
    noun = "tool" if len(missing) == 1 else "tools"
    return (
        f"This assistant does not have the {names} {noun}, so I cannot answer that. "
        "Give the assistant the stock tools and ask again."
    )


def _outputs(calls: tuple[ToolExchange, ...], tool: str) -> dict[str, str | None]:
    """Symbol -> the newest output of `tool` for it, among `calls`."""
    mine = [call for call in calls if call.name == tool]
    found: dict[str, str | None] = {}
    for call, symbol in zip(mine, symbols_of(call.arguments for call in mine), strict=True):
        if symbol:
            found[symbol.upper()] = call.output
    return found


def _advice_text(quotes: list[Quote], outputs: dict[str, str | None], action: str | None) -> str:
    lines: list[str] = []
    advised = False
    for quote in quotes:
        if quote.price is None:
            lines.append(quote.line)
            continue
        advice: Advice = parse_advice(quote, outputs.get(quote.symbol))
        advised = advised or (advice.error is None and advice.declined is None)
        lines.append(advice.answer(action))
    if advised:
        lines.append(TOY_ADVICE_NOTE)
    return "\n".join(lines)


def _with_note(text: str, reused: list[str]) -> str:
    if not reused:
        return text
    return f"{text}\n(Prices of {', '.join(reused)} as quoted earlier in this conversation.)"
