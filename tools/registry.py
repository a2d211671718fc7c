"""`ToolRegistry`: the tools an assistant may call, and the safe execution of its calls.

Every problem with a call, whoever caused it (the model sending broken JSON, a tool raising, a
tool hanging), becomes a `ToolResult` with ``is_error=True`` and a JSON error object the
assistant can read and react to. Only cancellation of the caller propagates: the run must keep
going after one bad call, but must stop when the application says so.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import reprlib
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, Literal

import pydantic
import pydantic_core

from tools.context import CURRENT_CALL
from tools.errors import ToolError, ToolErrorType
from tools.tool import FunctionTool
from tools.types import ToolCall, ToolResult

logger = logging.getLogger(__name__)

SchemaStyle = Literal["assistants", "responses"]

# At most this many validation problems are listed in one error message.
_MAX_REPORTED_ERRORS = 10


class _CallFailed(Exception):
    """Internal: a call ended in an error output; carries what the assistant will read."""

    def __init__(self, error_type: ToolErrorType, message: str) -> None:
        super().__init__(message)
        self.error_type: ToolErrorType = error_type
        self.message = message

    def output(self) -> str:
        return json.dumps({"error": {"type": self.error_type, "message": self.message}})


class ToolRegistry:
    """Named function tools, their schemas, and `execute` / `execute_all` for calls.

    Args:
        tools: Tools (or plain functions, wrapped with `function_tool`) to register.
        default_timeout: Seconds a call may run when neither the caller nor the tool says.
    """

    def __init__(
        self,
        tools: Iterable[FunctionTool[..., Any] | Callable[..., Any]] = (),
        *,
        default_timeout: float = 30.0,
    ) -> None:
        if not default_timeout > 0:
            raise ValueError(f"default_timeout must be positive, got {default_timeout!r}")
        self._default_timeout = default_timeout
        self._tools: dict[str, FunctionTool[..., Any]] = {}
        for tool in tools:
            self.register(tool)

    def register(self, tool: FunctionTool[..., Any] | Callable[..., Any]) -> FunctionTool[..., Any]:
        """Add a tool; a plain function is wrapped first. Names must be unique."""
        if not isinstance(tool, FunctionTool):
            tool = FunctionTool(tool)
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool
        return tool

    @property
    def default_timeout(self) -> float:
        return self._default_timeout

    @property
    def names(self) -> tuple[str, ...]:
        """Registered tool names, in registration order."""
        return tuple(self._tools)

    @property
    def tools(self) -> tuple[FunctionTool[..., Any], ...]:
        """Registered tools, in registration order (e.g. to copy them into another registry)."""
        return tuple(self._tools.values())

    def get(self, name: str) -> FunctionTool[..., Any] | None:
        return self._tools.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def schemas(self, style: SchemaStyle = "assistants") -> list[dict[str, Any]]:
        """Tool definitions for the chosen API, in registration order."""
        if style == "assistants":
            return [tool.assistants_schema() for tool in self._tools.values()]
        if style == "responses":
            return [tool.responses_schema() for tool in self._tools.values()]
        raise ValueError(f"schema style must be 'assistants' or 'responses', got {style!r}")

    # A `timeout` argument, not the caller's `asyncio.timeout`: the limit applies to each call
    # separately and produces a "timeout" result instead of cancelling the caller.
    async def execute_all(
        self,
        calls: Sequence[ToolCall],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (see above)
    ) -> list[ToolResult]:
        """Run all calls concurrently; results come back in the order of `calls`."""
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(self.execute(call, timeout=timeout), name=f"tool:{call.id}")
                for call in calls
            ]
        return [task.result() for task in tasks]

    async def execute(
        self,
        call: ToolCall,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (see execute_all)
    ) -> ToolResult:
        """Run one call and return its result; never raises except `asyncio.CancelledError`.

        The time limit is `timeout` if given (the caller's deadline wins), else the tool's
        own, else the registry's default.
        """
        started = time.perf_counter()
        try:
            output = await self._run(call, timeout)
        except _CallFailed as failed:
            failure = failed
        except Exception as exc:  # a bug outside the tool body, e.g. in a custom validator
            failure = _CallFailed("exception", _exception_message(call.name, exc))
        else:
            duration = time.perf_counter() - started
            logger.info("tool %s (call %s) succeeded in %.3fs", call.name, call.id, duration)
            return ToolResult(call.id, call.name, output, duration_s=duration)
        duration = time.perf_counter() - started
        logger.warning(
            "tool %s (call %s) failed with %s in %.3fs",
            reprlib.repr(call.name),
            call.id,
            failure.error_type,
            duration,
        )
        # The message may quote argument values, which may be user content: debug only.
        logger.debug("tool %s (call %s) error: %s", call.name, call.id, failure.message)
        return ToolResult(
            call.id,
            call.name,
            failure.output(),
            is_error=True,
            error_type=failure.error_type,
            duration_s=duration,
        )

    async def _run(self, call: ToolCall, limit_s: float | None) -> str:
        tool = self._tools.get(call.name)
        if tool is None:
            available = ", ".join(self._tools) or "none"
            raise _CallFailed(
                "unknown_tool",
                f"Unknown tool {reprlib.repr(call.name)}. Available tools: {available}.",
            )
        args, kwargs = _bind_arguments(tool, call.arguments)
        if limit_s is None:
            limit_s = tool.timeout if tool.timeout is not None else self._default_timeout
        token = CURRENT_CALL.set(call)  # copied into the worker thread by asyncio.to_thread
        try:
            value = await _invoke(tool, args, kwargs, limit_s)
        finally:
            CURRENT_CALL.reset(token)
        return _to_output(tool.name, value)

    def approval_reason(self, call: ToolCall, *, listed: Collection[str] = ()) -> str | None:
        """Why `call` must wait for a person, or None: its tool's own rule, or `listed` (tool
        names, ``*`` for all: the ``APPROVE_TOOLS`` setting). An unknown tool or arguments that
        do not fit need no approval: the call fails without running anyway."""
        tool = self._tools.get(call.name)
        if tool is None:
            return None
        if "*" in listed or tool.name in listed:
            return f"the APPROVE_TOOLS setting lists {'every tool' if '*' in listed else tool.name}"
        if tool.needs_approval is False:
            return None
        try:
            args, kwargs = _bind_arguments(tool, call.arguments)
        except _CallFailed:
            return None
        bound = inspect.signature(tool.func).bind(*args, **kwargs)
        bound.apply_defaults()
        return tool.approval_reason(bound.arguments)

    def is_idempotent(self, name: str) -> bool:
        """True when the tool called `name` is declared idempotent (unknown tools are not)."""
        tool = self._tools.get(name)
        return tool is not None and tool.idempotent


def _bind_arguments(tool: FunctionTool[..., Any], text: str) -> tuple[list[Any], dict[str, Any]]:
    """Decode and validate the model's JSON text against the tool's signature."""
    # Models sometimes send "" for a tool without parameters; read it as no arguments.
    if not text.strip():
        text = "{}"
    try:
        decoded = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _CallFailed(
            "invalid_json", f"Arguments for tool {tool.name!r} are not valid JSON: {exc}."
        ) from None
    if not isinstance(decoded, dict):
        raise _CallFailed(
            "invalid_arguments",
            f"Arguments for tool {tool.name!r} must be a JSON object, got {_json_kind(decoded)}.",
        )
    try:
        return tool.bind(decoded)
    except pydantic.ValidationError as exc:
        raise _CallFailed(
            "invalid_arguments",
            f"Invalid arguments for tool {tool.name!r}: {_describe_validation(exc)}.",
        ) from None


async def _invoke(
    tool: FunctionTool[..., Any], args: list[Any], kwargs: dict[str, Any], limit_s: float
) -> Any:
    """Run the tool under its time limit, translating every outcome but cancellation."""
    deadline = asyncio.timeout(limit_s)
    try:
        async with deadline:
            if tool.is_async:
                return await tool.func(*args, **kwargs)
            # A sync tool runs in a worker thread so the event loop stays responsive. On
            # timeout we stop waiting, but Python cannot kill a thread: the function keeps
            # running in its thread until it returns, and its result is discarded.
            value = await asyncio.to_thread(tool.func, *args, **kwargs)
            if inspect.isawaitable(value):  # e.g. an object whose __call__ is async
                value = await value
            return value
    except TimeoutError as exc:
        if deadline.expired():
            raise _CallFailed(
                "timeout", f"Tool {tool.name!r} did not finish within {limit_s:g} seconds."
            ) from None
        raise _CallFailed("exception", _exception_message(tool.name, exc)) from exc
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is None or task.cancelling():
            raise  # our caller is being cancelled: honour it
        # Raised inside the tool (say, it awaited a cancelled future): a tool failure.
        raise _CallFailed("exception", f"Tool {tool.name!r} was cancelled internally.") from None
    except ToolError as exc:
        raise _CallFailed("exception", f"Tool {tool.name!r} failed: {exc}") from exc
    except Exception as exc:
        raise _CallFailed("exception", _exception_message(tool.name, exc)) from exc
    except (SystemExit, KeyboardInterrupt) as exc:
        # A tool must not end the process that runs the conversation: a tool error like any.
        raise _CallFailed("exception", _exception_message(tool.name, exc)) from None


def _to_output(tool_name: str, value: Any) -> str:
    """Strings go back as they are; anything else as JSON text."""
    if isinstance(value, str):
        return value
    try:
        return pydantic_core.to_json(value).decode()
    except pydantic_core.PydanticSerializationError:
        raise _CallFailed(
            "exception",
            f"Tool {tool_name!r} returned a {type(value).__name__}, "
            "which cannot be converted to JSON text.",
        ) from None


def _exception_message(tool_name: str, exc: BaseException) -> str:
    detail = str(exc)
    kind = type(exc).__name__
    return (
        f"Tool {tool_name!r} raised {kind}: {detail}"
        if detail
        else f"Tool {tool_name!r} raised {kind}."
    )


def _describe_validation(exc: pydantic.ValidationError) -> str:
    """One phrase per problem, naming the argument; never echoes the offending values."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False)[:_MAX_REPORTED_ERRORS]:
        location = ".".join(str(part) for part in error["loc"]) or "arguments"
        problems.append(f"{location}: {error['msg']}")
    if exc.error_count() > _MAX_REPORTED_ERRORS:
        problems.append(f"and {exc.error_count() - _MAX_REPORTED_ERRORS} more")
    return "; ".join(problems)


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"
