"""Reading for the demo model: tickers and intent in user text, and tool outputs.

Everything here is pure and total: any text and any tool output give an answer, never an
exception. Tool outputs are parsed into `Quote` and `Advice`; anything unexpected (non-JSON,
an ``error`` object, a missing price) becomes their `error` text.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "Advice",
    "Intent",
    "Quote",
    "find_intent",
    "find_symbols",
    "parse_advice",
    "parse_quote",
]

Intent = Literal["price", "advice"]

KNOWN_TICKERS = frozenset(
    {
        "AAPL", "MSFT", "TSLA", "GOOGL", "GOOG", "AMZN", "NVDA", "META", "NFLX", "AMD",
        "INTC", "IBM", "ORCL", "CRM", "ADBE", "PYPL", "UBER", "DIS", "WMT", "NKE", "SPOT",
        "SHOP", "BABA", "PLTR", "COIN", "SNOW", "QCOM", "AVGO", "CSCO", "PEP", "COST", "JPM",
    }
)  # fmt: skip

COMPANY_TICKERS = {
    "apple": "AAPL",
    "microsoft": "MSFT",
    "tesla": "TSLA",
    "google": "GOOGL",
    "alphabet": "GOOGL",
    "amazon": "AMZN",
    "nvidia": "NVDA",
    "meta": "META",
    "facebook": "META",
    "netflix": "NFLX",
    "intel": "INTC",
    "oracle": "ORCL",
    "salesforce": "CRM",
    "adobe": "ADBE",
    "paypal": "PYPL",
    "uber": "UBER",
    "disney": "DIS",
    "walmart": "WMT",
    "nike": "NKE",
    "spotify": "SPOT",
    "shopify": "SHOP",
    "alibaba": "BABA",
    "palantir": "PLTR",
    "coinbase": "COIN",
    "snowflake": "SNOW",
    "qualcomm": "QCOM",
    "broadcom": "AVGO",
    "cisco": "CSCO",
    "pepsi": "PEP",
    "pepsico": "PEP",
    "costco": "COST",
}

# Upper-case words that are not tickers, though they look like one.
NOT_TICKERS = frozenset(
    {
        "I", "A", "AN", "AM", "PM", "OK", "OR", "AND", "THE", "IS", "IT", "TO", "OF", "IN",
        "ON", "AT", "BY", "MY", "ME", "DO", "SO", "NO", "YES", "HI", "HEY", "WHAT", "HOW",
        "WHY", "WHO", "WHEN", "BUY", "SELL", "HOLD", "USD", "EUR", "GBP", "CEO", "CFO", "AI",
        "US", "USA", "UK", "EU", "ETF", "IPO", "PE", "EPS", "API", "FAQ", "TV", "FYI", "ASAP",
        "IMO", "LOL", "NYSE", "SEC", "GDP", "NB", "PS", "ATM", "Q", "VS",
    }
)  # fmt: skip

ADVICE_WORDS = frozenset(
    {"buy", "sell", "hold", "invest", "investing", "recommend", "recommendation", "advice",
     "advise", "selling", "buying", "holding", "dump"}
)  # fmt: skip
PRICE_WORDS = frozenset(
    {"price", "prices", "quote", "quotes", "trading", "trade", "cost", "costs", "worth",
     "value", "much", "stock", "stocks", "share", "shares", "ticker", "valued"}
)  # fmt: skip

# Letters of any script: "Société" is one word (not "Soci", "t"), so no ticker "G" hides in it.
_WORD = re.compile(r"[^\W\d_]+")
# Words by which a message points back at stocks named earlier ("should I sell it?").
BACK_REFERENCES = frozenset(
    {"it", "its", "them", "they", "their", "that", "those", "this", "these", "same", "both",
     "one", "ones"}
)  # fmt: skip
FOLLOW_UP_OPENERS = ("and", "also", "what about", "how about", "then")
ACTIONS = ("sell", "buy", "hold")


def find_symbols(text: str) -> list[str]:
    """Ticker symbols in `text`, in order of first mention, without repeats."""
    shouting = text.isupper()
    symbols: list[str] = []
    for match in _WORD.finditer(text):
        word = match.group()
        symbol = _symbol(word, allow_unknown=not shouting)
        if symbol is not None and symbol not in symbols:
            symbols.append(symbol)
    return symbols


def _symbol(word: str, *, allow_unknown: bool) -> str | None:
    lower = word.lower()
    if lower in COMPANY_TICKERS:
        return COMPANY_TICKERS[lower]
    if word.upper() in KNOWN_TICKERS and (word.isupper() or len(word) >= 3):
        return word.upper()
    if allow_unknown and _plausible_ticker(word):
        return word
    return None


def _plausible_ticker(word: str) -> bool:
    """An unknown word that could be a ticker: 2-5 upper-case ASCII letters, not a common
    abbreviation. The tool decides whether it exists (an unknown one is the tool's error)."""
    return word.isascii() and word.isupper() and 2 <= len(word) <= 5 and word not in NOT_TICKERS


def refers_back(text: str) -> bool:
    """Whether a message without tickers points at stocks named earlier."""
    words = [word.lower() for word in _WORD.findall(text)]
    opener = " ".join(words[:2])
    starts = any(opener == o or opener.startswith(o + " ") for o in FOLLOW_UP_OPENERS)
    return starts or bool(set(words) & BACK_REFERENCES) or len(words) <= 3


def asked_action(text: str) -> str | None:
    """The action a buy/sell/hold question asks about ("sell" in "should I sell it?")."""
    words = {word.lower() for word in _WORD.findall(text)}
    return next((action for action in ACTIONS if action in words), None)


def find_intent(text: str) -> Intent | None:
    """``advice`` for buy/sell/hold questions, ``price`` for price questions, else None."""
    words = {word.lower() for word in _WORD.findall(text)}
    if words & ADVICE_WORDS:
        return "advice"
    if words & PRICE_WORDS or "how much" in text.lower():
        return "price"
    return None


@dataclass(frozen=True, slots=True)
class Quote:
    symbol: str
    price: float | None = None
    currency: str = "USD"
    source: str | None = None
    error: str | None = None

    @property
    def line(self) -> str:
        if self.error is not None or self.price is None:
            return f"The get_stock_price tool reported an error for {self.symbol}: {self.error}"
        simulated = " (simulated quote)" if self.source == "simulated" else ""
        return f"{self.symbol} is trading at {self.price:.2f} {self.currency}{simulated}."


@dataclass(frozen=True, slots=True)
class Advice:
    symbol: str
    price: float
    currency: str = "USD"
    recommendation: str | None = None
    reason: str | None = None
    error: str | None = None
    declined: str | None = None
    """Set when a person refused the call: why it was not run, in the reply's words."""

    @property
    def line(self) -> str:
        if self.declined is not None:
            return self.declined
        if self.error is not None or self.recommendation is None:
            return f"The buy_or_sell tool reported an error for {self.symbol}: {self.error}"
        reason = f" — {self.reason}" if self.reason else ""
        return (
            f"For {self.symbol} at {self.price:.2f} {self.currency}: {self.recommendation}{reason}"
        )

    def answer(self, action: str | None) -> str:
        """The line, answering the action asked about when it is not what the tool advises
        ("should I sell?" -> "Selling MSFT is not what the tool advises: ...")."""
        if action is None or self.recommendation is None or action == self.recommendation:
            return self.line
        verb = {"sell": "Selling", "buy": "Buying", "hold": "Holding"}[action]
        return f"{verb} {self.symbol} is not what the tool advises. {self.line}"


def parse_quote(symbol: str, output: str | None) -> Quote:
    data, error = _load(output)
    if data is None:
        return Quote(symbol, error=error)
    price = _number(data.get("price"))
    if price is None:
        return Quote(symbol, error="the output has no usable price")
    currency = data.get("currency") if isinstance(data.get("currency"), str) else "USD"
    source = data.get("source") if isinstance(data.get("source"), str) else None
    return Quote(symbol, price=price, currency=currency or "USD", source=source)


def parse_advice(quote: Quote, output: str | None) -> Advice:
    price = quote.price if quote.price is not None else 0.0
    declined = _declined(quote.symbol, output)
    if declined is not None:
        return Advice(quote.symbol, price, quote.currency, declined=declined)
    data, error = _load(output)
    if data is None:
        return Advice(quote.symbol, price, quote.currency, error=error)
    recommendation = data.get("recommendation")
    if not isinstance(recommendation, str) or not recommendation:
        return Advice(quote.symbol, price, quote.currency, error="the output has no recommendation")
    reason = data.get("reason") if isinstance(data.get("reason"), str) else None
    return Advice(quote.symbol, price, quote.currency, recommendation.lower(), reason)


def _declined(symbol: str, output: str | None) -> str | None:
    """The reply's line when the advice call was not approved (error ``declined_by_user``)."""
    data = _decode(output.strip()) if output else None
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict) or error.get("type") != "declined_by_user":
        return None
    reason = error.get("reason")
    if error.get("who") == "timeout":
        return (
            f"Nobody approved the buy_or_sell check for {symbol} in time, so I did not run it "
            "and have no recommendation for it. Ask again when you can approve it."
        )
    because = f" ({_clip(reason)})" if isinstance(reason, str) and reason else ""
    return (
        f"Understood: you declined the buy_or_sell check for {symbol}{because}, so I did not "
        "run it and make no recommendation for it."
    )


def _load(output: str | None) -> tuple[dict[str, Any] | None, str]:
    """The output as an object, or None and the error text to report.

    A real model reads what a tool returns in any reasonable shape: a JSON object, a bare number
    (``123.45``), a quoted one (``"123.45"``), or a Python ``repr`` of a dict; a bare number is
    read as the price.
    """
    if output is None:
        return None, "no output was submitted"
    data = _decode(output.strip())
    if isinstance(data, str):
        data = _decode(data.strip())
    if isinstance(data, int | float) and not isinstance(data, bool):
        return {"price": data}, ""
    if data is None:
        return None, f"it returned text that I cannot read: {_clip(output)!r}"
    if not isinstance(data, dict):
        return None, f"it returned unexpected output: {_clip(output)!r}"
    if data.get("error"):
        return None, _error_message(data["error"])
    return data, ""


def _decode(text: str) -> Any:
    """JSON, else a Python literal (a dict's ``repr``), else None; never raises."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    if len(text) > 10_000:  # literal_eval of a huge untrusted text is not worth the time
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _error_message(error: Any) -> str:
    if isinstance(error, dict):
        message = error.get("message")
        kind = error.get("type")
        if isinstance(message, str) and message:
            return f"{message} ({kind})" if isinstance(kind, str) and kind else message
        return _clip(json.dumps(error))
    return _clip(str(error))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _clip(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def symbols_of(arguments: Iterable[str]) -> list[str | None]:
    """The ``symbol`` argument of each call's JSON arguments (None where there is none)."""
    symbols: list[str | None] = []
    for raw in arguments:
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        symbol = data.get("symbol") if isinstance(data, dict) else None
        symbols.append(symbol if isinstance(symbol, str) else None)
    return symbols
