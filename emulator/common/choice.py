"""``tool_choice`` and ``parallel_tool_calls``, honoured on both protocols whatever the model.

The model sees only the function tools it may call (`ToolPolicy.visible`); its turn is then held
to the policy (`ToolPolicy.enforce`):

- ``none``: no tools are visible; calls a model makes anyway become a reply saying so;
- ``required`` (or ``allowed_tools`` with mode ``required``): a reply on the first turn becomes
  a call of the first allowed function, with arguments built from its schema;
- a named function: the first turn calls that function (other calls are dropped; without one, a
  call with arguments built from its schema is made);
- ``allowed_tools``: only the listed functions are visible and callable;
- ``parallel_tool_calls: false``: one call per turn (the first); the model asks for the rest on
  later turns.

"First turn" is the first turn of an Assistants run, and every response of the Responses API
(each response is one turn, and the real API forces a call in each response that asks).
Hosted tool choices (``web_search``, ``file_search``, ...) cannot be honoured offline and act
like ``auto``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from .structured import instance
from .turns import CallTools, Reply, ToolSpec, Turn

__all__ = ["ToolPolicy"]


@dataclass(frozen=True, slots=True)
class ToolPolicy:
    """What a run or response allows: `mode`, an optional `forced` function, the `allowed`
    function names (None = all), one call per turn or several, and each function's schema."""

    mode: Literal["auto", "none", "required"] = "auto"
    forced: str | None = None
    allowed: frozenset[str] | None = None
    parallel: bool = True
    schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def of(
        cls, tool_choice: Any, parallel_tool_calls: Any, functions: Mapping[str, Any]
    ) -> ToolPolicy:
        """The policy of a request; `functions` maps each function tool's name to its
        ``parameters`` schema."""
        schemas = {name: dict(schema or {}) for name, schema in functions.items()}
        parallel = parallel_tool_calls is not False
        if tool_choice in ("none", "required"):
            return cls(tool_choice, parallel=parallel, schemas=schemas)
        if isinstance(tool_choice, Mapping):
            kind = tool_choice.get("type")
            if kind == "function":
                nested = tool_choice.get("function")
                holder = nested if isinstance(nested, Mapping) else tool_choice
                name = holder.get("name")
                if isinstance(name, str):
                    return cls("required", name, parallel=parallel, schemas=schemas)
            if kind == "allowed_tools":
                listed = tool_choice.get("tools") or []
                names = frozenset(
                    tool.get("name") for tool in listed if isinstance(tool, Mapping)
                ) - {None}
                mode: Literal["auto", "required"] = (
                    "required" if tool_choice.get("mode") == "required" else "auto"
                )
                allowed = frozenset(str(name) for name in names)
                return cls(mode, allowed=allowed, parallel=parallel, schemas=schemas)
        return cls(parallel=parallel, schemas=schemas)

    def visible(self, names: Sequence[str]) -> tuple[str, ...]:
        """The function names the model may see and call."""
        if self.mode == "none":
            return ()
        if self.forced is not None:
            return tuple(name for name in names if name == self.forced)
        if self.allowed is not None:
            return tuple(name for name in names if name in self.allowed)
        return tuple(names)

    def enforce(self, turn: Turn, *, first_turn: bool) -> Turn:
        """`turn` held to this policy."""
        visible = self.visible(list(self.schemas))
        if isinstance(turn, CallTools):
            if self.mode == "none":
                names = ", ".join(call.name for call in turn.calls)
                return Reply(f"(The model wanted to call {names}, but tool_choice is none.)")
            restricted = self.forced is not None or self.allowed is not None
            # Unrestricted, a (scripted) model may call anything, even a tool not declared.
            calls = [c for c in turn.calls if c.name in visible] if restricted else turn.calls
            if not calls:
                return self._forced_call(turn.delay) if visible else Reply("", turn.delay)
            if not self.parallel:
                calls = calls[:1]
            return CallTools(calls, turn.delay)
        if isinstance(turn, Reply) and first_turn and self.mode == "required" and visible:
            return self._forced_call(turn.delay)
        return turn

    def _forced_call(self, delay: float) -> CallTools:
        name = self.forced or next(iter(self.visible(list(self.schemas))))
        arguments = instance(self.schemas.get(name) or {"type": "object", "properties": {}})
        if not isinstance(arguments, dict):
            arguments = {}
        return CallTools([ToolSpec(name, arguments)], delay)
