"""Token usage: what a model call consumed, in the toolkit's one vocabulary.

Every protocol reports usage in its own shape (Responses: ``input_tokens`` with
``input_tokens_details.cached_tokens``; Assistants runs and Chat Completions:
``prompt_tokens`` with ``prompt_tokens_details``); backends normalise it into `Usage` once
(`proxies.backends.usage.usage_from_sdk`), and everything above speaks `Usage` only.

The counts follow the APIs' own definitions: `cached_input_tokens` are *part of*
`input_tokens` (the share read from the prompt cache, billed at a lower rate), and
`reasoning_tokens` are part of `output_tokens`. So the total is input plus output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Spend", "Usage", "format_usd"]


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one or more model calls consumed (all counts are non-negative)."""

    input_tokens: int = 0
    cached_input_tokens: int = 0
    """Of `input_tokens`, how many came from the prompt cache."""
    output_tokens: int = 0
    reasoning_tokens: int = 0
    """Of `output_tokens`, how many the model spent reasoning (not shown as text)."""

    def __post_init__(self) -> None:
        for name in ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"Usage.{name} must be a non-negative integer, got {value!r}")

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
            self.output_tokens + other.output_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
        )

    def since(self, earlier: Usage) -> Usage:
        """What was consumed after `earlier` (a running total seen before this one); counts
        that went down (a total restarted) are taken as they are now."""
        return Usage(
            _since(self.input_tokens, earlier.input_tokens),
            _since(self.cached_input_tokens, earlier.cached_input_tokens),
            _since(self.output_tokens, earlier.output_tokens),
            _since(self.reasoning_tokens, earlier.reasoning_tokens),
        )

    def __str__(self) -> str:
        """``1,234 in (200 cached) / 56 out (10 reasoning)``: the parts that are non-zero."""
        cached = f" ({self.cached_input_tokens:,} cached)" if self.cached_input_tokens else ""
        reasoning = f" ({self.reasoning_tokens:,} reasoning)" if self.reasoning_tokens else ""
        return f"{self.input_tokens:,} in{cached} / {self.output_tokens:,} out{reasoning}"


def _since(now: int, before: int) -> int:
    return now - before if now >= before else now


def format_usd(amount: float) -> str:
    """Money as people read it: cents from a cent up; below, three significant digits (one
    exchange often costs a fraction of a cent, which "$0.00" would hide)."""
    if amount >= 0.01 or amount <= 0:
        return f"${amount:,.2f}"
    decimals = 2 - math.floor(math.log10(amount))
    return f"${amount:.{decimals}f}"


@dataclass(frozen=True, slots=True)
class Spend:
    """Usage and cost added up over usage reports (an exchange's, a conversation's).

    `cost_usd` is the sum of the reports that had a price; `unpriced` counts those that had
    none, so a total is never shown as complete when part of it is unknown.
    """

    usage: Usage = Usage()
    cost_usd: float = 0.0
    reports: int = 0
    unpriced: int = 0

    def plus(self, usage: Usage, cost_usd: float | None) -> Spend:
        return Spend(
            self.usage + usage,
            self.cost_usd + (cost_usd or 0.0),
            self.reports + 1,
            self.unpriced + (cost_usd is None),
        )

    def __add__(self, other: Spend) -> Spend:
        return Spend(
            self.usage + other.usage,
            self.cost_usd + other.cost_usd,
            self.reports + other.reports,
            self.unpriced + other.unpriced,
        )

    @property
    def cost_text(self) -> str:
        """``$0.000123``, ``no price known``, or ``≥ $0.000123`` when part has no price."""
        if self.reports and self.unpriced == self.reports:
            return "no price known"
        if self.unpriced:
            return f"≥ {format_usd(self.cost_usd)} (part has no price known)"
        return format_usd(self.cost_usd)

    def __str__(self) -> str:
        return f"{self.usage} tokens, {self.cost_text}"
