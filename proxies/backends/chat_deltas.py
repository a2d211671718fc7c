"""Assembling streamed Chat Completions tool calls from their deltas.

A streamed tool call arrives in pieces: its first delta names the call (`index`, `id`,
`function.name`), the later ones carry only `index` and a piece of `function.arguments`, and
several calls may interleave, told apart by `index` alone. Servers differ at the edges: some
send a whole call in one delta, some repeat the id or the name, some omit `index` (then the id
says which call, or the newest one is meant). `ToolCallAssembler` takes the deltas as they
come and gives the calls in index order, arguments joined exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tools.types import ToolCall

__all__ = ["ToolCallAssembler"]


@dataclass
class _Partial:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class ToolCallAssembler:
    """Collects one choice's tool-call deltas (objects with `index`, `id`, `function`)."""

    def __init__(self) -> None:
        self._calls: dict[int, _Partial] = {}
        self._newest: int | None = None

    def __bool__(self) -> bool:
        return bool(self._calls)

    def _slot(self, index: int | None, call_id: str | None) -> int:
        if index is not None:
            return index
        if call_id:
            for known, partial in self._calls.items():
                if partial.id == call_id:
                    return known
            return len(self._calls)  # a new call, named by its id only
        return self._newest if self._newest is not None else 0

    def add(self, delta: Any) -> None:
        """Take one tool-call delta (an SDK `ChoiceDeltaToolCall` or alike)."""
        call_id = getattr(delta, "id", None)
        slot = self._slot(getattr(delta, "index", None), call_id)
        partial = self._calls.setdefault(slot, _Partial())
        self._newest = slot
        if call_id and not partial.id:
            partial.id = call_id
        function = getattr(delta, "function", None)
        if function is None:
            return
        name = getattr(function, "name", None)
        if name and not partial.name:
            partial.name = name
        piece = getattr(function, "arguments", None)
        if piece:
            partial.arguments.append(piece)

    def calls(self) -> tuple[ToolCall, ...]:
        """The calls assembled so far, in index order (a call the server left unnamed by id
        gets one made from its index)."""
        return tuple(
            ToolCall(
                id=partial.id or f"call_{index}",
                name=partial.name,
                arguments="".join(partial.arguments) or "{}",
            )
            for index, partial in sorted(self._calls.items())
        )
