"""Property: whatever text the model sends as arguments, `execute` answers and never raises."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Literal
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from tools import ToolCall, ToolRegistry, demo_registry, function_tool

ERROR_TYPES = {"invalid_json", "invalid_arguments", "unknown_tool", "exception", "timeout"}


class Item(BaseModel):
    name: str
    count: int = 1


@function_tool
def rich(
    count: int,
    mode: Literal["a", "b"] = "a",
    tags: list[str] | None = None,
    item: Item | None = None,
    ratio: float = 0.5,
) -> dict[str, object]:
    """A tool with many parameter kinds, to give validation plenty to reject."""
    if count < 0:
        raise ValueError("count must not be negative")
    return {"count": count, "mode": mode, "tags": tags, "item": item, "ratio": ratio}


def _registry() -> ToolRegistry:
    registry = demo_registry(default_timeout=5.0)
    registry.register(rich)
    return registry


KEYS = st.sampled_from(["count", "mode", "tags", "item", "ratio", "symbol", "price", "name"])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=6), inner),
    max_leaves=12,
)
ARGUMENT_TEXTS = st.one_of(
    st.text(),
    JSON_VALUES.map(json.dumps),
    st.dictionaries(KEYS, JSON_VALUES, max_size=5).map(json.dumps),
)
NAMES = st.sampled_from(["get_stock_price", "buy_or_sell", "rich"]) | st.text(max_size=20)


def test_arbitrary_arguments_never_make_execute_raise() -> None:
    registry = _registry()

    @settings(max_examples=300, deadline=None)
    @given(name=NAMES, arguments=ARGUMENT_TEXTS)
    def check(name: str, arguments: str) -> None:
        result = runner.run(registry.execute(ToolCall("call-1", name, arguments)))
        assert (result.call_id, result.name) == ("call-1", name)
        assert isinstance(result.output, str)
        if result.is_error:
            assert result.error_type in ERROR_TYPES
            error = json.loads(result.output)["error"]
            assert error["type"] == result.error_type
            if result.error_type != "unknown_tool":
                assert repr(name) in error["message"]
        else:
            assert result.error_type is None

    # The simulated source keeps get_stock_price offline and fast for every example.
    with asyncio.Runner() as runner, mock.patch.dict(os.environ, {"QUOTE_SOURCE": "simulated"}):
        check()
