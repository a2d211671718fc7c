"""An offline HTTP server speaking the OpenAI Assistants v2 and Responses/Conversations wire
protocols.

The real `openai` SDK works against it unchanged (``base_url=server.base_url``). Runs and
responses are decided by the same model: the default `DemoStockModel`, a `ScriptedModel` of
`Turn`s for tests, or any object with ``decide(context) -> Turn``. Faults (errors, latency,
dropped connections, lost replies, cut streams, stalls, resets) are injected per test through
`EmulatorServer.faults`; `EmulatorServer.holdings(id)` counts what a thread or conversation
holds.
"""

from __future__ import annotations

from .common.config import EmulatorConfig
from .common.errors import ScriptExhaustedError
from .common.faults import Fault, FaultSet
from .common.inspect import Holdings
from .common.server import EmulatorServer
from .common.turns import (
    CallTools,
    Expire,
    Fail,
    Incomplete,
    Model,
    Reply,
    ScriptedModel,
    Stall,
    ThreadMessage,
    ToolExchange,
    ToolSpec,
    Turn,
    TurnContext,
)
from .demo.model import DemoStockModel
from .demo.seed import BUY_OR_SELL_TOOL, DEMO_ASSISTANT_ID, GET_STOCK_PRICE_TOOL

__all__ = [
    "BUY_OR_SELL_TOOL",
    "DEMO_ASSISTANT_ID",
    "GET_STOCK_PRICE_TOOL",
    "CallTools",
    "DemoStockModel",
    "EmulatorConfig",
    "EmulatorServer",
    "Expire",
    "Fail",
    "Fault",
    "FaultSet",
    "Holdings",
    "Incomplete",
    "Model",
    "Reply",
    "ScriptExhaustedError",
    "ScriptedModel",
    "Stall",
    "ThreadMessage",
    "ToolExchange",
    "ToolSpec",
    "Turn",
    "TurnContext",
]
