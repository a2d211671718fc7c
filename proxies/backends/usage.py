"""Token usage as the APIs report it, normalised into the toolkit's `Usage` once.

One function for every shape the `openai` SDK hands back, so a new backend reuses it:

- Responses (`Response.usage`): ``input_tokens``, ``input_tokens_details.cached_tokens``,
  ``output_tokens``, ``output_tokens_details.reasoning_tokens``;
- Assistants runs (`Run.usage`) and Chat Completions (`CompletionUsage`): ``prompt_tokens``,
  ``prompt_tokens_details.cached_tokens``, ``completion_tokens``,
  ``completion_tokens_details.reasoning_tokens`` (the details are absent on older servers).

SDK objects and plain dicts (a raw JSON body) are read alike. Missing or null counts are 0; a
count the server got wrong (negative, not a number) is 0 too rather than an error: usage is
an account of the past and must never break an exchange.
"""

from __future__ import annotations

from typing import Any

from mediator.usage import Usage

__all__ = ["usage_from_sdk"]


def _get(source: Any, name: str) -> Any:
    if source is None:
        return None
    if isinstance(source, dict):
        return source.get(name)
    return getattr(source, name, None)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage_from_sdk(reported: Any) -> Usage | None:
    """The `Usage` in an SDK usage object (or its JSON dict); None when there is none."""
    if reported is None:
        return None
    if _get(reported, "input_tokens") is not None or _get(reported, "output_tokens") is not None:
        input_, output = "input_tokens", "output_tokens"
    else:
        input_, output = "prompt_tokens", "completion_tokens"
    inputs = _count(_get(reported, input_))
    outputs = _count(_get(reported, output))
    cached = _count(_get(_get(reported, f"{input_}_details"), "cached_tokens"))
    reasoning = _count(_get(_get(reported, f"{output}_details"), "reasoning_tokens"))
    # The parts can never exceed their whole; a server that says otherwise is capped.
    return Usage(inputs, min(cached, inputs), outputs, min(reasoning, outputs))
