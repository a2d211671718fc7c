"""Token usage as the emulator reports it: counted from the text a model call reads and
writes, the same way for both protocols, streamed or not.

- **Input**: the instructions, the tool definitions (as the model sees them: name,
  description, parameters), and every item of the history the call reads (messages, function
  calls, function outputs), each item costing `ITEM_OVERHEAD` tokens beyond its text (the role
  and separators of the chat format).
- **Output**: the reply's text, or each function call's name and arguments.
- **Cached input** (Responses only; the Assistants API reports no cache): like OpenAI's
  prompt cache, a prompt of at least `CACHE_MIN` tokens that starts with the previous prompt
  of the same conversation (same instructions and tools) reads that prefix from the cache,
  counted in whole blocks of `CACHE_BLOCK` tokens.
- **Reasoning**: the scripted models do not reason: 0.

Text is counted with `estimate_tokens` (about four characters a token, OpenAI's own rule of
thumb): not a real tokenizer, but deterministic, so tests can compute the expected figures.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from .wire import estimate_tokens

__all__ = [
    "CACHE_BLOCK",
    "CACHE_MIN",
    "ITEM_OVERHEAD",
    "PromptCache",
    "call_tokens",
    "prompt_tokens",
    "tool_definitions",
]

ITEM_OVERHEAD: Final = 4
CACHE_MIN: Final = 1024
CACHE_BLOCK: Final = 128
_CACHE_SIZE: Final = 10_000


def tool_definitions(tools: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The tools as the model reads them, whatever the protocol's shape: function tools as
    ``{name, description, parameters}`` (Assistants nests them under ``function``), other
    tools as they are."""
    found: list[dict[str, Any]] = []
    for tool in tools:
        function = tool.get("function") if tool.get("type") == "function" else None
        source = function if isinstance(function, Mapping) else tool
        if tool.get("type") == "function":
            keys = ("name", "description", "parameters")
            found.append({k: source[k] for k in keys if source.get(k) is not None})
        else:
            found.append(dict(tool))
    return found


def _tools_text(tools: Iterable[Mapping[str, Any]]) -> str:
    definitions = tool_definitions(tools)
    return json.dumps(definitions, sort_keys=True, separators=(",", ":")) if definitions else ""


def prompt_tokens(
    instructions: str | None, tools: Iterable[Mapping[str, Any]], items: Sequence[str]
) -> int:
    """Input tokens of a call reading `instructions`, `tools` and the history `items` (the
    text of each message, function call or function output)."""
    return (
        estimate_tokens(instructions or "")
        + estimate_tokens(_tools_text(tools))
        + sum(ITEM_OVERHEAD + estimate_tokens(text) for text in items)
    )


def call_tokens(name: str, arguments: str) -> int:
    """Output tokens of one function call: its name and its arguments."""
    return estimate_tokens(name) + estimate_tokens(arguments)


class PromptCache:
    """The previous prompt of each conversation, to tell how much of the next one is cached."""

    def __init__(self) -> None:
        self._last: OrderedDict[str, tuple[str, int]] = OrderedDict()

    def read(
        self,
        conversation: str | None,
        instructions: str | None,
        tools: Iterable[Mapping[str, Any]],
        prompt: int,
    ) -> int:
        """The cached share of a `prompt`-token call in `conversation` (remembered for the
        next call). A call outside a conversation caches nothing."""
        if conversation is None:
            return 0
        prefix = f"{instructions or ''}\x00{_tools_text(tools)}"
        signature = hashlib.sha256(prefix.encode("utf-8", "surrogatepass")).hexdigest()
        before = self._last.pop(conversation, None)
        self._last[conversation] = (signature, prompt)
        while len(self._last) > _CACHE_SIZE:
            self._last.popitem(last=False)
        if before is None or before[0] != signature or prompt < CACHE_MIN:
            return 0
        return min(before[1], prompt) // CACHE_BLOCK * CACHE_BLOCK
