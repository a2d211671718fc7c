"""The demo assistant's two toy tools: a stock quote and a buy/sell/hold rule.

Quotes come from Yahoo Finance (through yfinance) or, for offline use, from a simulation that
is deterministic per symbol and UTC day, so demos and tests are repeatable without a network.
The source is the ``QUOTE_SOURCE`` setting (`tools.settings`), read at each call of the
module-level tool, never at import; `demo_registry(quote_source=...)` binds a source instead,
which is what the apps do with the one settings object they load at start-up. yfinance
itself is imported only when a Yahoo quote is requested: it is slow to import and not needed
offline.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationError

from tools.errors import QuoteUnavailableError
from tools.registry import ToolRegistry
from tools.settings import QUOTE_SOURCES, QuoteSource, ToolSettings
from tools.tickers import KNOWN_TICKERS, is_known_ticker
from tools.tool import FunctionTool, function_tool

QUOTE_SOURCE_ENV = "QUOTE_SOURCE"

#: Seconds for each request yfinance makes. A quote involves a few requests, so an unreachable
#: Yahoo costs a small multiple of this; the registry's timeout bounds the whole call anyway.
YAHOO_REQUEST_TIMEOUT_S = 5.0

#: A ticker symbol as accepted (any case; it is uppercased after the check).
SYMBOL_PATTERN = r"[A-Za-z0-9.-]{1,10}"
_SYMBOL = re.compile(SYMBOL_PATTERN)

#: Below this price the toy rule says buy; above `SELL_ABOVE` it says sell; otherwise hold.
BUY_BELOW = 100.0
SELL_ABOVE = 500.0

_DISCLAIMER = "Toy rule for the demo, not financial advice."
_SIMULATED_NOTE = "Simulated quote for offline use, not market data."


def quote_source() -> QuoteSource:
    """The quote source the ``QUOTE_SOURCE`` setting names now; "yahoo" when unset or empty."""
    try:
        return ToolSettings().quote_source or "yahoo"
    except ValidationError:
        allowed = " or ".join(repr(source) for source in QUOTE_SOURCES)
        raise ValueError(f"{QUOTE_SOURCE_ENV} must be {allowed}") from None


def normalize_symbol(symbol: str) -> str:
    """Uppercase a ticker symbol and check it: 1-10 letters, digits, '.' or '-'.

    Used both by argument validation (so the assistant gets a clear message) and inside the
    tool (so direct Python callers get the same rule).
    """
    candidate = symbol.strip()
    if not _SYMBOL.fullmatch(candidate):  # checked before upper(), which maps "ß" to "SS"
        raise ValueError(
            "a ticker symbol is 1-10 characters: letters, digits, '.' or '-' (e.g. AAPL, BRK-B)"
        )
    return candidate.upper()


Symbol = Annotated[
    str,
    AfterValidator(normalize_symbol),
    Field(json_schema_extra={"pattern": f"^{SYMBOL_PATTERN}$"}),
]


def simulated_price(symbol: str, day: dt.date) -> float:
    """A stable pseudo-price in [10, 900) for `symbol` on `day`.

    Derived from a hash (not `hash()`, which is salted per process) so every process, on every
    machine, gives the same price for the same symbol and day.
    """
    digest = hashlib.sha256(f"{symbol}|{day.isoformat()}".encode()).digest()
    cents = int.from_bytes(digest[:8], "big") % 89_000
    return round(10 + cents / 100, 2)


def simulated_quote(symbol: str, day: dt.date | None = None) -> dict[str, Any]:
    """The offline quote for `symbol`, labelled as simulated; `day` defaults to today (UTC)."""
    symbol = normalize_symbol(symbol)
    day = day if day is not None else dt.datetime.now(dt.UTC).date()
    return {
        "symbol": symbol,
        "price": simulated_price(symbol, day),
        "currency": "USD",
        "source": "simulated",
        "note": _SIMULATED_NOTE,
    }


def yahoo_quote(symbol: str) -> dict[str, Any]:
    """The latest daily close from Yahoo Finance; `QuoteUnavailableError` when there is none."""
    symbol = normalize_symbol(symbol)
    try:
        import yfinance
    except ImportError as exc:
        raise QuoteUnavailableError(
            "yfinance is not installed, so Yahoo Finance quotes are unavailable. "
            f"Set {QUOTE_SOURCE_ENV}=simulated for offline quotes.",
            symbol=symbol,
            source="yahoo",
        ) from exc
    try:
        ticker = yfinance.Ticker(symbol)
        history = ticker.history(period="5d", interval="1d", timeout=YAHOO_REQUEST_TIMEOUT_S)
        closes = [float(close) for close in history["Close"]] if not history.empty else []
        currency = ticker.history_metadata.get("currency") if closes else None
    except Exception as exc:  # network, DNS, TLS, rate limit, changed response format...
        raise QuoteUnavailableError(
            f"Yahoo Finance could not be reached for {symbol} ({type(exc).__name__}). "
            f"Set {QUOTE_SOURCE_ENV}=simulated for offline quotes.",
            symbol=symbol,
            source="yahoo",
        ) from exc
    prices = [close for close in closes if math.isfinite(close) and close > 0]
    if not prices:
        raise QuoteUnavailableError(
            f"Yahoo Finance returned no recent price for {symbol}: the symbol may not exist, "
            f"or Yahoo Finance may be unreachable. Set {QUOTE_SOURCE_ENV}=simulated for "
            "offline quotes.",
            symbol=symbol,
            source="yahoo",
        )
    return {
        "symbol": symbol,
        "price": round(prices[-1], 2),
        "currency": currency if isinstance(currency, str) else "USD",
        "source": "yahoo",
    }


@function_tool(idempotent=True)  # a lookup: asking twice changes nothing
def get_stock_price(symbol: Symbol) -> str:
    """Get the current price of a stock, by its ticker symbol.

    The source is chosen by ``QUOTE_SOURCE`` at each call ("yahoo" or "simulated"). Failures
    raise (`ValueError`, `QuoteUnavailableError`); the registry turns them into error outputs.

    Args:
        symbol: The ticker symbol, for example AAPL or BRK-B.
    """
    return _quote(symbol, quote_source())


def _quote(symbol: str, source: QuoteSource) -> str:
    if source == "simulated":
        known = normalize_symbol(symbol)
        if not is_known_ticker(known):  # never a made-up price for a made-up symbol
            raise QuoteUnavailableError(
                f"Unknown ticker symbol {known}: the simulated quote source knows "
                f"{len(KNOWN_TICKERS)} well-known listings, and this is not one of them. "
                "Check the symbol.",
                symbol=known,
                source="simulated",
            )
        return json.dumps(simulated_quote(known))
    return json.dumps(yahoo_quote(symbol))


@functools.cache  # one tool per source: building its argument model is the costly part
def stock_price_tool(source: QuoteSource) -> FunctionTool[[str], str]:
    """`get_stock_price` with its quote source fixed (same name, description and schema)."""

    def get_stock_price(symbol: Symbol) -> str:
        return _quote(symbol, source)

    get_stock_price.__doc__ = _GET_STOCK_PRICE_DOC
    return FunctionTool(get_stock_price, idempotent=True)


@function_tool(idempotent=True)  # a pure rule over its arguments
def buy_or_sell(symbol: Symbol, price: Annotated[float, Field(gt=0, allow_inf_nan=False)]) -> str:
    """Recommend whether to buy, sell or hold a stock, given its current price.

    A deterministic toy rule, so the demo conversation is predictable: below 100 buy, above
    500 sell, otherwise hold (the bounds themselves hold).

    Args:
        symbol: The ticker symbol, for example AAPL.
        price: The current price of one share, greater than 0.
    """
    symbol = normalize_symbol(symbol)
    if not (math.isfinite(price) and price > 0):
        raise ValueError("price must be a finite number greater than 0")
    if price < BUY_BELOW:
        recommendation, reason = "buy", f"the price is below {BUY_BELOW:g}"
    elif price > SELL_ABOVE:
        recommendation, reason = "sell", f"the price is above {SELL_ABOVE:g}"
    else:
        recommendation, reason = "hold", f"the price is between {BUY_BELOW:g} and {SELL_ABOVE:g}"
    return json.dumps(
        {
            "symbol": symbol,
            "price": price,
            "recommendation": recommendation,
            "reason": reason,
            "disclaimer": _DISCLAIMER,
        }
    )


def demo_registry(
    *, quote_source: QuoteSource | None = None, default_timeout: float = 30.0
) -> ToolRegistry:
    """A fresh registry holding the demo assistant's two tools.

    With `quote_source`, quotes always come from there; without, from the ``QUOTE_SOURCE``
    setting at each call.
    """
    price = get_stock_price if quote_source is None else stock_price_tool(quote_source)
    return ToolRegistry([price, buy_or_sell], default_timeout=default_timeout)


_GET_STOCK_PRICE_DOC = get_stock_price.__doc__
