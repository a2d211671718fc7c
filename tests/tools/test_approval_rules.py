"""Which calls need a person's approval: the tool's own rule and the APPROVE_TOOLS setting."""

from __future__ import annotations

import pytest

from conversation.settings import SettingsError, load_settings
from mediator.approvals import ApprovalDecision, refusal
from tools import ToolCall, ToolDefinitionError, ToolRegistry, function_tool
from tools.formatting import tool_call_line


@function_tool(needs_approval=lambda symbol, quantity: quantity > 100)
def place_order(symbol: str, quantity: int) -> str:
    """Place an order.

    Args:
        symbol: The ticker.
        quantity: How many shares.
    """
    return "placed"


@function_tool(needs_approval=True)
def wire_money(amount: float) -> str:
    """Send money.

    Args:
        amount: How much.
    """
    return "sent"


@function_tool(needs_approval=lambda amount: f"{amount:g} is a lot" if amount > 10 else False)
def tip(amount: float) -> str:
    """Leave a tip.

    Args:
        amount: How much.
    """
    return "tipped"


@function_tool
def look(symbol: str) -> str:
    """Look something up.

    Args:
        symbol: The ticker.
    """
    return "seen"


REGISTRY = ToolRegistry([place_order, wire_money, tip, look])


def _call(name: str, arguments: str) -> ToolCall:
    return ToolCall("call_1", name, arguments)


@pytest.mark.parametrize(
    ("name", "arguments", "why"),
    [
        ("place_order", '{"symbol": "MSFT", "quantity": 5}', None),
        (
            "place_order",
            '{"symbol": "MSFT", "quantity": 500}',
            "the approval rule of place_order asks for it",
        ),
        ("wire_money", '{"amount": 1}', "wire_money always needs approval"),
        ("tip", '{"amount": 50}', "50 is a lot"),
        ("tip", '{"amount": 5}', None),
        ("look", '{"symbol": "MSFT"}', None),
        # Arguments that do not fit, or an unknown tool: the call fails without running.
        ("place_order", '{"symbol": "MSFT"}', None),
        ("nope", "{}", None),
    ],
)
def test_the_tool_rule_decides_from_the_arguments(
    name: str, arguments: str, why: str | None
) -> None:
    assert REGISTRY.approval_reason(_call(name, arguments)) == why


def test_the_setting_lists_tools_or_all_of_them() -> None:
    call = _call("look", '{"symbol": "MSFT"}')
    assert (
        REGISTRY.approval_reason(call, listed=("look",)) == "the APPROVE_TOOLS setting lists look"
    )
    assert REGISTRY.approval_reason(call, listed=("*",)) == (
        "the APPROVE_TOOLS setting lists every tool"
    )
    assert REGISTRY.approval_reason(call, listed=("place_order",)) is None


def test_a_rule_that_raises_asks_a_person() -> None:
    @function_tool(needs_approval=lambda amount: 1 / 0)
    def risky(amount: float) -> str:
        """Risky.

        Args:
            amount: How much.
        """
        return "done"

    why = ToolRegistry([risky]).approval_reason(_call("risky", '{"amount": 1}'))
    assert why == "the approval rule of risky failed (ZeroDivisionError: division by zero)"


def test_needs_approval_must_be_a_bool_or_a_callable() -> None:
    with pytest.raises(ToolDefinitionError, match="needs_approval must be a bool or a callable"):
        function_tool(needs_approval="yes")(look.func)  # type: ignore[call-overload]


def test_approval_settings_are_read_and_bad_values_named_in_one_line() -> None:
    settings = load_settings({"APPROVE_TOOLS": " buy_or_sell , place_order "}, dotenv_path=None)
    assert settings.approve_tools == ("buy_or_sell", "place_order")
    assert load_settings({}, dotenv_path=None).approve_tools == ()
    assert load_settings({}, dotenv_path=None).approval_timeout_s == 300.0
    with pytest.raises(SettingsError) as bad:
        load_settings({"APPROVE_TOOLS": "buy or sell"}, dotenv_path=None)
    assert str(bad.value) == (
        "invalid configuration: APPROVE_TOOLS: must be tool names separated by commas, or * "
        "for every tool; 'buy or sell' is not (got 'buy or sell')"
    )
    with pytest.raises(SettingsError, match="APPROVAL_TIMEOUT_S: Input should be greater than 0"):
        load_settings({"APPROVAL_TIMEOUT_S": "0"}, dotenv_path=None)


def test_a_refusal_reads_as_not_run_in_the_transcript() -> None:
    call = _call("wire_money", '{"amount": 1}')
    by_user = refusal(call, ApprovalDecision("call_1", False, reason="not today"))
    assert (
        tool_call_line(call, by_user)
        == "wire_money(amount=1) → not run: declined by the user (not today)"
    )
    late = refusal(call, ApprovalDecision("call_1", False, who="timeout", reason="late"))
    assert (
        tool_call_line(call, late) == "wire_money(amount=1) → not run: nobody approved it in time"
    )
