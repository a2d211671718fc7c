"""The demo tools: quote sources, symbol validation and the toy buy/sell rule."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tools import ToolCall, buy_or_sell, demo_registry, get_stock_price, quote_source
from tools.stocks import QUOTE_SOURCE_ENV, normalize_symbol, simulated_price, simulated_quote


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


async def _call(name: str, **arguments: Any) -> tuple[dict[str, Any], str | None]:
    result = await demo_registry().execute(ToolCall("c1", name, json.dumps(arguments)))
    return json.loads(result.output), result.error_type


@pytest.fixture
def simulated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(QUOTE_SOURCE_ENV, "simulated")


def test_demo_registry_holds_the_two_tools_and_is_fresh_each_time() -> None:
    assert demo_registry().names == ("get_stock_price", "buy_or_sell")
    assert demo_registry() is not demo_registry()
    assert get_stock_price.description == "Get the current price of a stock, by its ticker symbol."


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "yahoo"), ("", "yahoo"), ("yahoo", "yahoo"), (" Simulated ", "simulated")],
)
def test_quote_source_is_read_from_the_environment_at_call_time(
    monkeypatch: pytest.MonkeyPatch, value: str | None, expected: str
) -> None:
    if value is None:
        monkeypatch.delenv(QUOTE_SOURCE_ENV, raising=False)
    else:
        monkeypatch.setenv(QUOTE_SOURCE_ENV, value)
    assert quote_source() == expected


def test_unknown_quote_source_names_the_variable_and_allowed_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(QUOTE_SOURCE_ENV, "bloomberg")
    with pytest.raises(ValueError, match="QUOTE_SOURCE must be 'yahoo' or 'simulated'"):
        quote_source()


async def test_unknown_quote_source_becomes_an_error_output(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(QUOTE_SOURCE_ENV, "bloomberg")
    payload, error_type = await _call("get_stock_price", symbol="AAPL")
    assert error_type == "exception"
    assert "QUOTE_SOURCE must be 'yahoo' or 'simulated'" in payload["error"]["message"]


@pytest.mark.usefixtures("simulated")
async def test_simulated_quote_is_labelled_and_matches_todays_price() -> None:
    before = _today()
    payload, error_type = await _call("get_stock_price", symbol="aapl")
    possible = {simulated_price("AAPL", day) for day in (before, _today())}  # midnight-safe
    assert error_type is None
    assert payload.pop("price") in possible
    assert payload == {
        "symbol": "AAPL",
        "currency": "USD",
        "source": "simulated",
        "note": "Simulated quote for offline use, not market data.",
    }


def test_simulated_price_is_pinned_so_it_is_the_same_in_every_process() -> None:
    day = dt.date(2024, 1, 2)
    assert simulated_price("AAPL", day) == 815.06
    assert simulated_price("MSFT", day) == 354.23
    assert simulated_price("AAPL", dt.date(2024, 1, 3)) == 626.91
    assert simulated_quote("aapl", day)["price"] == 815.06


@given(
    symbol=st.from_regex(r"[A-Z0-9.-]{1,10}", fullmatch=True),
    day=st.dates(dt.date(2000, 1, 1), dt.date(2100, 1, 1)),
)
def test_simulated_prices_are_deterministic_plausible_and_in_cents(
    symbol: str, day: dt.date
) -> None:
    price = simulated_price(symbol, day)
    assert price == simulated_price(symbol, day)
    assert 10 <= price < 900
    assert round(price, 2) == price


def test_simulated_prices_move_from_day_to_day() -> None:
    days = [dt.date(2024, 1, 1) + dt.timedelta(days=n) for n in range(10)]
    assert len({simulated_price("AAPL", day) for day in days}) > 5


@pytest.mark.parametrize("symbol", ["", "TOO-LONG-SYM", "AA PL", "AAPL!", "ÄPPL", "ß"])
@pytest.mark.usefixtures("simulated")
async def test_invalid_symbols_are_rejected_with_a_clear_error(symbol: str) -> None:
    payload, error_type = await _call("get_stock_price", symbol=symbol)
    assert error_type == "invalid_arguments"
    assert "'get_stock_price'" in payload["error"]["message"]
    assert "ticker symbol is 1-10 characters" in payload["error"]["message"]
    with pytest.raises(ValueError, match="ticker symbol is 1-10 characters"):
        get_stock_price(symbol)  # direct Python callers get the same rule


def test_symbols_are_normalised_to_upper_case() -> None:
    assert normalize_symbol(" brk-b ") == "BRK-B"
    assert normalize_symbol("rds.a") == "RDS.A"


async def test_yahoo_source_fails_cleanly_and_quickly_when_yahoo_is_unreachable(
    monkeypatch: pytest.MonkeyPatch, refused_curl_hosts: list[str]
) -> None:
    monkeypatch.setenv(QUOTE_SOURCE_ENV, "yahoo")
    started = time.perf_counter()
    payload, error_type = await _call("get_stock_price", symbol="AAPL")
    elapsed = time.perf_counter() - started
    assert error_type == "exception"
    message = payload["error"]["message"]
    assert "'get_stock_price'" in message
    assert "Yahoo Finance could not be reached for AAPL" in message
    assert "QUOTE_SOURCE=simulated" in message
    # Refused at once, not waited out: the bound only catches a hang (importing yfinance alone
    # takes seconds on a busy machine), the speed itself is not a test's business.
    assert elapsed < 30.0
    # The failure came from the test network guard, not from whatever network this host has.
    assert any("yahoo" in host for host in refused_curl_hosts)


@pytest.mark.parametrize(
    ("price", "recommendation"),
    [(0.01, "buy"), (99.99, "buy"), (100, "hold"), (500, "hold"), (500.01, "sell"), (1e6, "sell")],
)
async def test_buy_or_sell_follows_the_documented_thresholds(
    price: float, recommendation: str
) -> None:
    payload, error_type = await _call("buy_or_sell", symbol="msft", price=price)
    assert error_type is None
    assert payload["symbol"] == "MSFT"
    assert payload["price"] == price
    assert payload["recommendation"] == recommendation
    assert payload["reason"].startswith("the price is")
    assert payload["disclaimer"] == "Toy rule for the demo, not financial advice."


@pytest.mark.parametrize("price", [0, -5, "NaN", "Infinity"])
async def test_buy_or_sell_rejects_prices_that_are_not_positive_numbers(price: Any) -> None:
    payload, error_type = await _call("buy_or_sell", symbol="MSFT", price=price)
    assert error_type == "invalid_arguments"
    assert "'buy_or_sell'" in payload["error"]["message"]
    assert "price:" in payload["error"]["message"]


def test_buy_or_sell_called_directly_still_rejects_a_bad_price() -> None:
    with pytest.raises(ValueError, match="greater than 0"):
        buy_or_sell("MSFT", 0)
    assert json.loads(buy_or_sell("msft", 50))["recommendation"] == "buy"


async def test_an_unknown_ticker_is_an_error_not_a_made_up_price() -> None:
    from tools import ToolCall, demo_registry

    registry = demo_registry(quote_source="simulated")
    result = await registry.execute(ToolCall("call_1", "get_stock_price", '{"symbol": "ZZZZZ"}'))
    assert result.is_error
    assert "Unknown ticker symbol ZZZZZ" in result.output
    known = await registry.execute(ToolCall("call_2", "get_stock_price", '{"symbol": "msft"}'))
    assert not known.is_error
    assert json.loads(known.output)["symbol"] == "MSFT"
