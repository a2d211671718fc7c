"""The one format for tool calls: compact line and full form (tools/formatting.py)."""

from __future__ import annotations

import json

import pytest

from tools.formatting import (
    ARGUMENTS_LIMIT,
    RESULT_LIMIT,
    call_summary,
    pretty_json,
    result_summary,
    tool_call_detail,
    tool_call_line,
)
from tools.types import ToolCall, ToolResult

PRICE_CALL = ToolCall(id="call_1", name="get_stock_price", arguments='{"symbol": "MSFT"}')
PRICE = ToolResult(
    call_id="call_1",
    name="get_stock_price",
    output=json.dumps(
        {
            "symbol": "MSFT",
            "price": 412.3,
            "currency": "USD",
            "source": "simulated",
            "note": "Simulated quote for offline use, not market data.",
        }
    ),
    duration_s=0.0123,
)
ADVICE_CALL = ToolCall(
    id="call_2", name="buy_or_sell", arguments='{"symbol": "MSFT", "price": 412.3}'
)
ADVICE = ToolResult(
    call_id="call_2",
    name="buy_or_sell",
    output=json.dumps(
        {"symbol": "MSFT", "price": 412.3, "recommendation": "hold", "reason": "between"}
    ),
)
TIMEOUT = ToolResult(
    call_id="call_1",
    name="get_stock_price",
    output=json.dumps({"error": {"type": "timeout", "message": "took longer than 60 s"}}),
    is_error=True,
    error_type="timeout",
)


def test_compact_line_names_the_key_arguments_and_the_result_in_a_few_words() -> None:
    assert tool_call_line(PRICE_CALL, PRICE) == (
        "get_stock_price(symbol=MSFT) → price=412.3, currency=USD, source=simulated…"
    )


def test_result_fields_that_echo_the_arguments_are_left_out() -> None:
    assert tool_call_line(ADVICE_CALL, ADVICE) == (
        "buy_or_sell(symbol=MSFT, price=412.3) → recommendation=hold, reason=between"
    )


def test_an_error_reads_as_failed_with_its_type_and_message() -> None:
    assert tool_call_line(PRICE_CALL, TIMEOUT) == (
        "get_stock_price(symbol=MSFT) → failed (timeout): took longer than 60 s"
    )


def test_an_error_whose_output_is_not_the_error_object_still_names_its_type() -> None:
    odd = ToolResult(call_id="c", name="t", output="boom", is_error=True, error_type=None)
    assert result_summary(odd) == "failed (error): boom"


def test_without_a_result_the_line_is_the_call() -> None:
    assert tool_call_line(PRICE_CALL) == "get_stock_price(symbol=MSFT)"


@pytest.mark.parametrize(
    ("arguments", "shown"),
    [
        ("not json {", "lookup(not json {)"),
        ("[1, 2]", "lookup([1, 2])"),
        ('{"filters": {"a": [1, 2]}, "on": true}', 'lookup(filters={"a":[1,2]}, on=true)'),
        ("{}", "lookup()"),
    ],
)
def test_arguments_that_are_not_a_flat_object_are_shown_as_given(
    arguments: str, shown: str
) -> None:
    assert call_summary(ToolCall(id="c", name="lookup", arguments=arguments)) == shown


def test_long_and_multi_line_payloads_stay_one_bounded_line() -> None:
    call = ToolCall(id="c", name="echo", arguments=json.dumps({"text": "line\n" * 100}))
    result = ToolResult(call_id="c", name="echo", output="word\n" * 100)
    line = tool_call_line(call, result)
    assert "\n" not in line
    assert len(line) <= len("echo() → ") + ARGUMENTS_LIMIT + RESULT_LIMIT
    assert line.count("…") == 2


def test_plain_text_output_is_its_own_summary() -> None:
    result = ToolResult(call_id="c", name="t", output="42 apples")
    assert result_summary(result) == "42 apples"


def test_full_form_keeps_everything_indented() -> None:
    detail = tool_call_detail(PRICE_CALL, PRICE)
    assert detail.arguments == '{\n  "symbol": "MSFT"\n}'
    assert json.loads(detail.output) == json.loads(PRICE.output)
    assert "Simulated quote for offline use, not market data." in detail.output
    assert detail.error_type is None
    assert str(detail).startswith("get_stock_price (call call_1) succeeded in 12 ms\narguments:")


def test_full_form_of_a_failure_names_it() -> None:
    detail = tool_call_detail(PRICE_CALL, TIMEOUT)
    assert detail.error_type == "timeout"
    assert "failed (timeout)" in str(detail)
    assert '"message": "took longer than 60 s"' in detail.output


def test_pretty_json_leaves_text_that_is_not_json_alone() -> None:
    assert pretty_json("<img src=x onerror=alert(1)>") == "<img src=x onerror=alert(1)>"
    assert pretty_json('{"a":"é"}') == '{\n  "a": "é"\n}'
