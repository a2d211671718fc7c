"""Scripted models: deterministic turn sources for tests.

`ScriptedModel` hands out its turns in order, one per `decide` call, whichever run asks. It is
thread-safe (runs decide in worker threads). When it runs out, `decide` raises
`ScriptExhaustedError` and the run that asked fails with that message.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from .errors import ScriptExhaustedError
from .turns import Turn, TurnContext

__all__ = ["ScriptedModel"]


class ScriptedModel:
    """Answer each turn with the next scripted `Turn`; remember the contexts seen."""

    def __init__(self, turns: Iterable[Turn]) -> None:
        self._turns: tuple[Turn, ...] = tuple(turns)
        self._next = 0
        self._contexts: list[TurnContext] = []
        self._lock = threading.Lock()

    def decide(self, context: TurnContext) -> Turn:
        with self._lock:
            self._contexts.append(context)
            if self._next >= len(self._turns):
                raise ScriptExhaustedError(len(self._turns))
            turn = self._turns[self._next]
            self._next += 1
            return turn

    @property
    def used(self) -> int:
        """How many turns were handed out."""
        with self._lock:
            return self._next

    @property
    def remaining(self) -> int:
        """How many turns are left."""
        with self._lock:
            return len(self._turns) - self._next

    @property
    def contexts(self) -> tuple[TurnContext, ...]:
        """Every context `decide` was called with, in order (exhausted calls included)."""
        with self._lock:
            return tuple(self._contexts)

    def __repr__(self) -> str:
        return f"ScriptedModel(used={self.used}, remaining={self.remaining})"
