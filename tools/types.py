"""The toolkit's vocabulary for function-tool calls, shared by every layer.

A `ToolCall` is what the assistant asked for; a `ToolResult` is what goes back. Both are
frozen so that events carrying them can be handed to any listener safely.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call requested by the assistant.

    `arguments` is the raw JSON text the model produced: it is untrusted and may be invalid.
    """

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The output for one `ToolCall`, ready to be submitted to the assistant.

    `output` is always a string (the wire protocols accept only strings). When the call could
    not be executed, `is_error` is true, `error_type` names the failure (``invalid_json``,
    ``invalid_arguments``, ``unknown_tool``, ``exception``, ``timeout``) and `output` is a JSON
    object ``{"error": {"type": ..., "message": ...}}`` the assistant can read.
    """

    call_id: str
    name: str
    output: str
    is_error: bool = False
    error_type: str | None = None
    duration_s: float = 0.0
