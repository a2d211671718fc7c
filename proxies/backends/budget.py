"""Context that fits: replayed history trimmed to a token budget (`MAX_CONTEXT_TOKENS`).

A stateless server is sent the whole conversation each turn, and a local model's context is
small, so the oldest turns go first. A turn is a user message and everything after it up to
the next one; a tool round (calls and their outputs) is never split, so a call never loses its
output. The assistant's instructions (system/developer) and the tool definitions always stay,
and so does the newest turn; when even that is too big, its oldest tool rounds go, never its
user message.

Tokens are counted with tiktoken's `o200k_base` when tiktoken is installed and its encoding
is at hand, and otherwise estimated on the safe side (one token per three bytes of UTF-8;
English averages about four), plus a few tokens of framing per item.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from proxies.backends.history import Said, ToolRound, Unit

__all__ = [
    "DEFAULT_MAX_CONTEXT_TOKENS",
    "ITEM_OVERHEAD_TOKENS",
    "ContextBudget",
    "estimate_tokens",
    "text_tokens",
    "unit_tokens",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_CONTEXT_TOKENS = 16_000
#: Framing each message or item costs beyond its text (role, separators).
ITEM_OVERHEAD_TOKENS = 4

Counter = Callable[[str], int]


def estimate_tokens(text: str) -> int:
    """A safe estimate: one token per three bytes of UTF-8, rounded up."""
    return (len(text.encode("utf-8")) + 2) // 3


@functools.cache
def _tokenizer() -> Counter:
    """tiktoken's counter when it is installed and its encoding loads; else the estimate."""
    try:
        tiktoken = importlib.import_module("tiktoken")
        encoding = tiktoken.get_encoding("o200k_base")
    except Exception as exc:  # not installed, or its encoding cannot be had (offline)
        logger.debug("counting tokens by estimate (tiktoken unavailable: %s)", exc)
        return estimate_tokens

    def count(text: str) -> int:
        return len(encoding.encode(text, disallowed_special=()))

    return count


def text_tokens(text: str) -> int:
    """The tokens of `text` (tiktoken where available, else estimated)."""
    return _tokenizer()(text) if text else 0


def unit_tokens(unit: Unit, count: Counter = text_tokens) -> int:
    """What one message or tool round costs in the context."""
    if isinstance(unit, Said):
        return ITEM_OVERHEAD_TOKENS + count(unit.text)
    calls = sum(
        ITEM_OVERHEAD_TOKENS + count(c.call_id) + count(c.name) + count(c.arguments)
        for c in unit.calls
    )
    outputs = sum(ITEM_OVERHEAD_TOKENS + count(a.call_id) + count(a.output) for a in unit.outputs)
    return calls + outputs


def _turns(units: Sequence[Unit]) -> list[list[Unit]]:
    """`units` cut before each user message."""
    turns: list[list[Unit]] = []
    for unit in units:
        if not turns or (isinstance(unit, Said) and unit.role == "user"):
            turns.append([])
        turns[-1].append(unit)
    return turns


@dataclass(frozen=True, slots=True)
class ContextBudget:
    """At most `max_tokens` per request: instructions and tools first, then the newest turns."""

    max_tokens: int = DEFAULT_MAX_CONTEXT_TOKENS
    count: Counter = text_tokens

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be positive, not {self.max_tokens!r}")

    def fixed_cost(self, instructions: str, tools: Sequence[dict[str, object]]) -> int:
        """What every request spends before any history: instructions and tool schemas."""
        schemas = json.dumps(list(tools), sort_keys=True) if tools else ""
        return ITEM_OVERHEAD_TOKENS + self.count(instructions) + self.count(schemas)

    def fit(self, units: Sequence[Unit], fixed: int) -> list[Unit]:
        """The newest turns of `units` that fit beside `fixed` tokens (see the module doc)."""
        turns = _turns(units)
        if not turns:
            return []
        room = self.max_tokens - fixed
        newest = self._fit_turn(turns[-1], room)
        room -= sum(unit_tokens(u, self.count) for u in newest)
        kept: list[list[Unit]] = [newest]
        for turn in reversed(turns[:-1]):
            cost = sum(unit_tokens(u, self.count) for u in turn)
            if cost > room:
                break
            kept.append(turn)
            room -= cost
        dropped = len(turns) - len(kept)
        if dropped:
            logger.debug("context budget: %d oldest turns left out", dropped)
        return [unit for turn in reversed(kept) for unit in turn]

    def _fit_turn(self, turn: list[Unit], room: int) -> list[Unit]:
        """The newest turn, its oldest tool rounds dropped while it is too big; its first unit
        (the user's message) and its last (what the model needs to go on) always stay."""
        kept = list(turn)
        while len(kept) > 2 and sum(unit_tokens(u, self.count) for u in kept) > room:
            middle = range(1, len(kept) - 1)
            oldest_round = next((i for i in middle if isinstance(kept[i], ToolRound)), 1)
            del kept[oldest_round]
        return kept
