"""The demo assistant every server starts with, and its two function-tool schemas (as data).

The schemas are in the Assistants nested format. They only describe the tools to the model;
the real implementations live in the toolkit's tool registry.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = [
    "BUY_OR_SELL_TOOL",
    "DEMO_ASSISTANT_ID",
    "DEMO_ASSISTANT_MODEL",
    "DEMO_ASSISTANT_NAME",
    "GET_STOCK_PRICE_TOOL",
    "demo_assistant_fields",
]

DEMO_ASSISTANT_ID = "asst_demo_stock"
DEMO_ASSISTANT_NAME = "Stock demo assistant"
DEMO_ASSISTANT_MODEL = "offline-demo"

DEMO_INSTRUCTIONS = (
    "You help users with stock prices. Use get_stock_price to look up the current price of a "
    "ticker symbol, and buy_or_sell with that price to give a buy, sell or hold recommendation. "
    "Always call the tools rather than guessing prices, and say when a quote is simulated."
)

GET_STOCK_PRICE_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_stock_price",
        "description": "Get the latest price of a stock by its ticker symbol.",
        "parameters": {
            "type": "object",
            "properties": {
                "symbol": {
                    "type": "string",
                    "description": "The ticker symbol, for example AAPL or MSFT.",
                }
            },
            "required": ["symbol"],
            "additionalProperties": False,
        },
        "strict": False,
    },
}

BUY_OR_SELL_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "buy_or_sell",
        "description": (
            "Give a toy buy, sell or hold recommendation for a stock at a given price."
        ),
        "parameters": {
            "type": "object",
            "properties": {
                "symbol": {
                    "type": "string",
                    "description": "The ticker symbol, for example AAPL or MSFT.",
                },
                "price": {
                    "type": "number",
                    "description": "The current price, as returned by get_stock_price.",
                },
            },
            "required": ["symbol", "price"],
            "additionalProperties": False,
        },
        "strict": False,
    },
}


def demo_assistant_fields() -> dict[str, Any]:
    """The create-request fields of the demo assistant (fresh copies, safe to mutate)."""
    return {
        "name": DEMO_ASSISTANT_NAME,
        "description": "Offline demo: looks up stock prices and gives toy buy/sell/hold advice.",
        "model": DEMO_ASSISTANT_MODEL,
        "instructions": DEMO_INSTRUCTIONS,
        "tools": [copy.deepcopy(GET_STOCK_PRICE_TOOL), copy.deepcopy(BUY_OR_SELL_TOOL)],
        "metadata": {"seeded_by": "emulator"},
    }
