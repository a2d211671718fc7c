"""The demo stock assistant's definition: one source for every protocol and the setup script."""

from __future__ import annotations

from typing import Final

from proxies.backends.base import AssistantDefinition
from tools import demo_registry

DEMO_ASSISTANT_ID: Final = "asst_demo_stock"
"""The demo assistant's fixed id; the emulator serves it under the same id (a test checks)."""
DEMO_NAME = "Stock demo assistant"
DEMO_INSTRUCTIONS = (
    "You help with stock prices. Use get_stock_price to look up a price by ticker symbol, "
    "and buy_or_sell with the symbol and the price you found to give the toy buy/sell/hold "
    "recommendation. Always say when a quote is simulated, and report tool errors plainly."
)
#: The model the offline emulator reports; online, `assistant_setup.py --model` picks one.
OFFLINE_MODEL = "offline-demo"

__all__ = ["DEMO_ASSISTANT_ID", "demo_definition"]


def demo_definition(model: str = OFFLINE_MODEL) -> AssistantDefinition:
    """The demo assistant, with tool schemas built from the registry's functions."""
    return AssistantDefinition(
        name=DEMO_NAME,
        model=model,
        instructions=DEMO_INSTRUCTIONS,
        tools=tuple(demo_registry().schemas("responses")),
    )
