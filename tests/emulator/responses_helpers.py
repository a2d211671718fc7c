"""Helpers for the Responses and Conversations tests: flat tools, outputs, status waits."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from openai import OpenAI
from openai.types.responses import FunctionToolParam, Response, ResponseInputItemParam

from emulator import BUY_OR_SELL_TOOL, GET_STOCK_PRICE_TOOL

from .conftest import wait_for

ACTIVE = ("queued", "in_progress")


def flat_tool(nested: dict[str, Any]) -> FunctionToolParam:
    """An Assistants (nested) function tool in the Responses (flat) shape."""
    function = nested["function"]
    return {
        "type": "function",
        "name": function["name"],
        "description": function["description"],
        "parameters": function["parameters"],
        "strict": function["strict"],
    }


def tool(name: str, *, strict: bool = False) -> FunctionToolParam:
    parameters = {"type": "object", "properties": {}, "additionalProperties": False}
    return {"type": "function", "name": name, "parameters": parameters, "strict": strict}


STOCK_TOOLS = [flat_tool(GET_STOCK_PRICE_TOOL), flat_tool(BUY_OR_SELL_TOOL)]


def outputs(
    response: Response, output: str | Callable[[str, dict[str, Any]], str] = "ok"
) -> list[ResponseInputItemParam]:
    """A ``function_call_output`` for every function call of `response`."""
    items: list[ResponseInputItemParam] = []
    for item in response.output:
        if item.type == "function_call":
            text = (
                output if isinstance(output, str) else output(item.name, json.loads(item.arguments))
            )
            items.append({"type": "function_call_output", "call_id": item.call_id, "output": text})
    return items


def calls(response: Response) -> list[tuple[str, dict[str, Any]]]:
    """The (name, arguments) of every function call in `response`."""
    return [
        (item.name, json.loads(item.arguments))
        for item in response.output
        if item.type == "function_call"
    ]


def wait_finished(client: OpenAI, response_id: str, timeout: float = 5.0) -> Response:
    """Retrieve the response until it leaves queued/in_progress."""

    def probe() -> Response | None:
        current = client.responses.retrieve(response_id)
        return current if current.status not in ACTIVE else None

    return wait_for(probe, timeout)


def wait_response_status(
    client: OpenAI, response_id: str, status: str, timeout: float = 5.0
) -> Response:
    def probe() -> Response | None:
        current = client.responses.retrieve(response_id)
        return current if current.status == status else None

    return wait_for(probe, timeout)


def stock_tools_output(name: str, arguments: dict[str, Any]) -> str:
    """Fixed outputs of the two demo tools."""
    if name == "get_stock_price":
        prices = {"MSFT": 410.5, "TSLA": 180.25, "AAPL": 190.0}
        return json.dumps({"symbol": arguments["symbol"], "price": prices[arguments["symbol"]]})
    advice = "buy" if arguments["price"] > 200 else "hold"
    return json.dumps({"recommendation": advice, "reason": "scripted test output"})
