"""Function tools: describe Python functions to an assistant and run its calls safely.

`function_tool` turns a function into a `FunctionTool` (schema from its signature and
docstring); `ToolRegistry` holds tools and turns each `ToolCall` into a `ToolResult`, never
raising for a tool's problem. `demo_registry` has the demo assistant's two toy tools.

This package is a leaf: it imports nothing from the rest of the toolkit, and not `openai`.
"""

from __future__ import annotations

from tools.context import current_call, idempotency_key
from tools.errors import QuoteUnavailableError, ToolDefinitionError, ToolError, ToolErrorType
from tools.registry import ToolRegistry
from tools.stocks import buy_or_sell, demo_registry, get_stock_price, quote_source
from tools.tool import FunctionTool, function_tool
from tools.types import ToolCall, ToolResult

__all__ = [
    "FunctionTool",
    "QuoteUnavailableError",
    "ToolCall",
    "ToolDefinitionError",
    "ToolError",
    "ToolErrorType",
    "ToolRegistry",
    "ToolResult",
    "buy_or_sell",
    "demo_registry",
    "current_call",
    "function_tool",
    "idempotency_key",
    "get_stock_price",
    "quote_source",
]
