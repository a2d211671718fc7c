"""`FunctionTool` and the `@function_tool` decorator: a plain function, described once.

Decoration does all the work that can fail on a definition (reading the signature, building
the pydantic model, generating the schema), so a broken tool fails at import of the module
that defines it, not in the middle of a run. Execution lives in `tools.registry`.
"""

from __future__ import annotations

import copy
import functools
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any, Generic, ParamSpec, TypeAlias, TypeVar, overload

from tools.errors import ToolDefinitionError
from tools.schema import ArgumentsSpec, json_schema, parse_docstring

P = ParamSpec("P")
R = TypeVar("R")

NeedsApproval: TypeAlias = bool | Callable[..., bool | str]
"""A tool's approval rule: always, never, or decided from the call's arguments (a callable
taking them as keyword arguments; True or a text saying why means ask a person)."""

# What OpenAI accepts as a function name.
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class FunctionTool(Generic[P, R]):
    """A function with the name, description and JSON schema an assistant needs to call it.

    The tool stays callable exactly like the function it wraps (no validation on direct
    calls); the registry validates the assistant's arguments before calling it.
    """

    # Set by functools.update_wrapper; declared so type checkers know about them.
    __name__: str
    __wrapped__: Callable[P, R]

    def __init__(
        self,
        func: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        idempotent: bool = False,
        needs_approval: NeedsApproval = False,
    ) -> None:
        tool_name = name if name is not None else getattr(func, "__name__", "")
        if not _TOOL_NAME.match(tool_name):
            raise ToolDefinitionError(
                tool_name, "a tool name must be 1-64 characters of letters, digits, '_' or '-'"
            )
        if timeout is not None and not timeout > 0:
            raise ToolDefinitionError(tool_name, f"timeout must be positive, got {timeout!r}")
        if not (isinstance(needs_approval, bool) or callable(needs_approval)):
            raise ToolDefinitionError(
                tool_name, f"needs_approval must be a bool or a callable, got {needs_approval!r}"
            )
        functools.update_wrapper(self, func)  # first, so its copied __dict__ cannot shadow ours
        doc = parse_docstring(inspect.getdoc(func))
        self._func = func
        self._name = tool_name
        self._description = description if description is not None else doc.summary
        self._timeout = timeout
        self._idempotent = idempotent
        self._needs_approval = needs_approval
        self._is_async = inspect.iscoroutinefunction(func)
        self._arguments = ArgumentsSpec.from_function(func, tool_name, doc.params)
        self._parameters = json_schema(self._arguments.model)

    @property
    def name(self) -> str:
        """The name the assistant calls the tool by."""
        return self._name

    @property
    def description(self) -> str:
        """What the assistant is told the tool does."""
        return self._description

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the arguments (a copy: callers may adapt it freely)."""
        return copy.deepcopy(self._parameters)

    @property
    def timeout(self) -> float | None:
        """The tool's own time limit in seconds, or None to use the registry's default."""
        return self._timeout

    @property
    def idempotent(self) -> bool:
        """True when running the same call twice has the effect of running it once: after a
        crash inside it, the call is run again instead of reported as of unknown outcome."""
        return self._idempotent

    @property
    def needs_approval(self) -> NeedsApproval:
        """Whether a person must approve a call before it runs: a bool, or a rule over the
        call's arguments (see `approval_reason`)."""
        return self._needs_approval

    def approval_reason(self, arguments: Mapping[str, Any]) -> str | None:
        """Why a call with `arguments` (decoded, validated) needs approval; None if it does not.

        A rule that raises asks for approval: when in doubt, a person decides.
        """
        rule = self._needs_approval
        if rule is True:
            return f"{self._name} always needs approval"
        if rule is False:
            return None
        try:
            verdict = rule(**arguments)
        except Exception as exc:
            return f"the approval rule of {self._name} failed ({type(exc).__name__}: {exc})"
        if isinstance(verdict, str):
            return verdict or f"the approval rule of {self._name} asks for it"
        return f"the approval rule of {self._name} asks for it" if verdict else None

    @property
    def is_async(self) -> bool:
        """True for a coroutine function, run on the event loop instead of in a thread."""
        return self._is_async

    @property
    def func(self) -> Callable[P, R]:
        """The wrapped function."""
        return self._func

    def bind(self, arguments: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Validate decoded JSON arguments; return positional and keyword arguments for `func`.

        Raises `pydantic.ValidationError` when the arguments do not fit the signature.
        """
        return self._arguments.bind(arguments)

    def assistants_schema(self) -> dict[str, Any]:
        """The tool definition for the Assistants API (v2): the function nested in a wrapper."""
        return {
            "type": "function",
            "function": {
                "name": self._name,
                "description": self._description,
                "parameters": self.parameters,
                "strict": False,
            },
        }

    def responses_schema(self) -> dict[str, Any]:
        """The tool definition for the Responses API: the same fields, flat."""
        return {
            "type": "function",
            "name": self._name,
            "description": self._description,
            "parameters": self.parameters,
            "strict": False,
        }

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._func(*args, **kwargs)

    def __repr__(self) -> str:
        kind = "async" if self._is_async else "sync"
        return f"<FunctionTool {self._name!r} ({kind})>"


@overload
def function_tool(func: Callable[P, R], /) -> FunctionTool[P, R]: ...


@overload
def function_tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    idempotent: bool = False,
    needs_approval: NeedsApproval = False,
) -> Callable[[Callable[P, R]], FunctionTool[P, R]]: ...


def function_tool(
    func: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    idempotent: bool = False,
    needs_approval: NeedsApproval = False,
) -> FunctionTool[P, R] | Callable[[Callable[P, R]], FunctionTool[P, R]]:
    """Turn a function into a `FunctionTool`; use bare (``@function_tool``) or with options.

    Args:
        func: The function, when used bare.
        name: The tool name; defaults to the function's name.
        description: The tool description; defaults to the docstring's first paragraph.
        timeout: Seconds the tool may run; None leaves it to the registry.
        idempotent: Running a call twice is harmless (a lookup, a keyed request): after a
            crash inside the tool, the call is run again rather than reported as unknown.
        needs_approval: A person approves each call before it runs (True), or a rule decides
            from the call's arguments, given as keyword arguments: True (or a text saying why)
            asks, False lets the call run, e.g. ``lambda symbol, quantity: quantity > 100``.
    """

    def decorate(f: Callable[P, R]) -> FunctionTool[P, R]:
        return FunctionTool(
            f,
            name=name,
            description=description,
            timeout=timeout,
            idempotent=idempotent,
            needs_approval=needs_approval,
        )

    if func is not None:
        return decorate(func)
    return decorate
