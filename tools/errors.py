"""Errors of the function-tool layer.

ToolDefinitionError (TypeError)   a function cannot be turned into a tool: raised at decoration
                                  or registration time, so a broken tool never reaches a run
ToolError                         a tool refused or failed deliberately; its message is written
│                                 for the assistant and is passed on as the error output
└── QuoteUnavailableError         the configured quote source gave no price

Problems with a *call* (bad JSON, bad arguments, unknown tool, exception, timeout) are never
raised out of the registry: they become a `ToolResult` with `is_error=True`, so that one bad
call cannot break a run. `ToolErrorType` names those outcomes.
"""

from __future__ import annotations

from typing import Literal

ToolErrorType = Literal["invalid_json", "invalid_arguments", "unknown_tool", "exception", "timeout"]

DECLINED_BY_USER = "declined_by_user"
"""The error type of a call a person did not approve: it was not run (`mediator.approvals`)."""


class ToolDefinitionError(TypeError):
    """A function's signature or name cannot be described to an assistant.

    A `TypeError` because it is a programming error in the tool's definition, found before
    any call is made.
    """

    def __init__(self, tool_name: str, problem: str) -> None:
        super().__init__(f"cannot define function tool {tool_name!r}: {problem}")
        self.tool_name = tool_name
        self.problem = problem


class ToolError(Exception):
    """Raised by a tool to report a failure in words meant for the assistant.

    The registry turns any exception into an error output; for this one it uses the message
    as written, without the exception class name, because the tool chose it for the reader.
    """


class QuoteUnavailableError(ToolError):
    """No price could be obtained from the configured quote source."""

    def __init__(self, message: str, *, symbol: str, source: str) -> None:
        super().__init__(message)
        self.symbol = symbol
        self.source = source
