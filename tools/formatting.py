"""How a tool call reads, in one place for every UI: the events' `str`, the terminal, the pages.

Two forms:

- the compact line, ``get_stock_price(symbol=MSFT) → price=412.3, currency=USD, source=yahoo``:
  the tool's name, its arguments as ``key=value``, and the result in a few words (the first
  fields of a JSON object, leaving out those that repeat an argument), or
  ``→ failed (timeout): the tool took longer than 60 s`` for an error;
- the full form (`ToolCallDetail`): every argument and the whole output, JSON indented, for
  an expander or a verbose listing.

Arguments and outputs are untrusted text (the model and the tools produce them): nothing here
interprets them beyond parsing JSON, and every line is whitespace-folded and bounded, so a
payload cannot break a line or flood a screen. Callers show the result as text, never markup.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from tools.errors import DECLINED_BY_USER
from tools.types import ToolCall, ToolResult

__all__ = [
    "ARGUMENTS_LIMIT",
    "RESULT_FIELDS",
    "RESULT_LIMIT",
    "ToolCallDetail",
    "call_summary",
    "pretty_json",
    "result_summary",
    "shorten",
    "tool_call_detail",
    "tool_call_line",
]

ARGUMENTS_LIMIT: Final = 60
"""Longest argument list the compact form shows, in characters."""
RESULT_LIMIT: Final = 60
"""Longest result summary the compact form shows, in characters."""
RESULT_FIELDS: Final = 3
"""How many fields of a JSON object result the compact form shows: a few words, not a dump."""
ARROW: Final = "→"


def shorten(text: str, limit: int) -> str:
    """Fold whitespace to single spaces and cut `text` to at most `limit` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _parse(text: str) -> object:
    """`text` as JSON, or the text itself when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _scalar(value: object) -> str:
    """A value as one short word-like token: strings bare, everything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _pairs(fields: dict[str, object]) -> str:
    return ", ".join(f"{key}={_scalar(value)}" for key, value in fields.items())


def call_summary(call: ToolCall, limit: int = ARGUMENTS_LIMIT) -> str:
    """``name(key=value, ...)``; arguments that are not a JSON object are shown as given."""
    arguments = _parse(call.arguments)
    shown = _pairs(arguments) if isinstance(arguments, dict) else call.arguments
    return f"{call.name}({shorten(shown, limit)})"


def _error_summary(result: ToolResult) -> str:
    """``failed (type): message`` from the ``{"error": {"type", "message"}}`` output; a call a
    person refused reads ``not run: declined by WHO (reason)``."""
    output = _parse(result.output)
    error = output.get("error") if isinstance(output, dict) else None
    if result.error_type == DECLINED_BY_USER and isinstance(error, dict):
        who, reason = error.get("who"), error.get("reason")
        by = (
            "nobody approved it in time"
            if who == "timeout"
            else f"declined by {who if who not in (None, 'user') else 'the user'}"
        )
        return f"not run: {by}" + (f" ({reason})" if reason and who != "timeout" else "")
    message = error.get("message") if isinstance(error, dict) else None
    kind = result.error_type or (error.get("type") if isinstance(error, dict) else None)
    text = message if isinstance(message, str) else result.output
    return f"failed ({kind or 'error'}): {text}"


def result_summary(
    result: ToolResult, call: ToolCall | None = None, limit: int = RESULT_LIMIT
) -> str:
    """The result in a few words: an error's type and message, or the first fields of a JSON
    object (fields equal to an argument of `call` are left out: they only echo the question)."""
    if result.is_error:
        return shorten(_error_summary(result), limit)
    output = _parse(result.output)
    if not isinstance(output, dict):
        return shorten(_scalar(output), limit)
    asked = _parse(call.arguments) if call is not None else None
    echoed = asked if isinstance(asked, dict) else {}
    fields = {k: v for k, v in output.items() if k not in echoed or echoed[k] != v}
    first = dict(list(fields.items())[:RESULT_FIELDS])
    more = "…" if len(fields) > RESULT_FIELDS else ""
    return shorten(_pairs(first) + more, limit) if first else "{}"


def tool_call_line(call: ToolCall, result: ToolResult | None = None) -> str:
    """The compact form: ``name(key=value) → result in a few words`` (no result: the call)."""
    if result is None:
        return call_summary(call)
    return f"{call_summary(call)} {ARROW} {result_summary(result, call)}"


def pretty_json(text: str) -> str:
    """JSON indented for reading; anything else exactly as it is."""
    parsed = _parse(text)
    if parsed is text:
        return text
    return json.dumps(parsed, indent=2, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class ToolCallDetail:
    """The full form of one call: everything, nothing cut, JSON indented."""

    name: str
    call_id: str
    arguments: str
    output: str
    error_type: str | None
    duration_s: float

    def __str__(self) -> str:
        outcome = f"failed ({self.error_type})" if self.error_type else "succeeded"
        return (
            f"{self.name} (call {self.call_id}) {outcome} in {self.duration_s * 1000:.0f} ms\n"
            f"arguments:\n{self.arguments}\noutput:\n{self.output}"
        )


def tool_call_detail(call: ToolCall, result: ToolResult) -> ToolCallDetail:
    """The full form of `call` and its `result`."""
    return ToolCallDetail(
        name=call.name,
        call_id=call.id,
        arguments=pretty_json(call.arguments),
        output=pretty_json(result.output),
        error_type=(result.error_type or "error") if result.is_error else None,
        duration_s=result.duration_s,
    )
