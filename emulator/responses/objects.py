"""Factories for complete Responses and Conversations wire objects, nullable fields written out.

As with the Assistants objects, everything is a plain JSON dict (`JsonObj`) from creation to
storage to the wire. Items (messages, function calls, function call outputs) have one shape
whether they sit in a response's ``output``, in a conversation or in a stored response's input.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..common.wire import JsonObj, new_id, now

__all__ = [
    "ACTIVE_RESPONSE_STATUSES",
    "INCOMPLETE_REASONS",
    "conversation_object",
    "function_call_item",
    "function_call_output_item",
    "item_list",
    "item_text",
    "message_item",
    "output_text_part",
    "reasoning_item",
    "response_object",
    "response_usage",
]

ACTIVE_RESPONSE_STATUSES = frozenset({"queued", "in_progress"})

# The model vocabulary speaks of run reasons; the Responses Literal knows `max_output_tokens`.
INCOMPLETE_REASONS = {
    "max_completion_tokens": "max_output_tokens",
    "max_prompt_tokens": "max_output_tokens",
}


def conversation_object(metadata: Mapping[str, str] | None = None) -> JsonObj:
    """A Conversation; `metadata` is always an object, never null (the SDK types it so)."""
    return {
        "id": new_id("conv"),
        "object": "conversation",
        "created_at": now(),
        "metadata": dict(metadata or {}),
    }


def output_text_part(text: str) -> JsonObj:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(
    role: str, content: str | Sequence[JsonObj], *, status: str = "completed"
) -> JsonObj:
    """A message item; string content becomes one ``input_text`` (or, for the assistant,
    ``output_text``) part."""
    if isinstance(content, str):
        part = (
            output_text_part(content)
            if role == "assistant"
            else {"type": "input_text", "text": content}
        )
        parts = [part]
    else:
        parts = [dict(part) for part in content]
    return {
        "type": "message",
        "id": new_id("msg"),
        "status": status,
        "role": role,
        "content": parts,
    }


def function_call_item(
    call_id: str, name: str, arguments: str, *, status: str = "completed"
) -> JsonObj:
    return {
        "type": "function_call",
        "id": new_id("fc"),
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def function_call_output_item(call_id: str, output: str | Sequence[JsonObj]) -> JsonObj:
    return {
        "type": "function_call_output",
        "id": new_id("fco"),
        "call_id": call_id,
        "output": output if isinstance(output, str) else [dict(part) for part in output],
        "status": "completed",
    }


def reasoning_item(given: Mapping[str, Any]) -> JsonObj:
    """A reasoning item replayed by a client, kept as given (with an id)."""
    return {
        **given,
        "type": "reasoning",
        "id": given.get("id") or new_id("rs"),
        "summary": list(given.get("summary") or []),
    }


def item_text(item: Mapping[str, Any]) -> str:
    """The text of an item as a model reads it: a message's text parts, a call's arguments,
    an output's text (text parts joined by newlines; images and files are left out)."""
    kind = item.get("type")
    if kind == "message":
        return _parts_text(item.get("content", []))
    if kind == "function_call":
        return str(item.get("arguments", ""))
    if kind == "function_call_output":
        output = item.get("output", "")
        return output if isinstance(output, str) else _parts_text(output)
    return ""


def _parts_text(parts: Iterable[Any]) -> str:
    texts = [
        part["text"]
        for part in parts
        if isinstance(part, dict) and isinstance(part.get("text"), str)
    ]
    return "\n".join(texts)


def response_usage(input_tokens: int, output_tokens: int, *, cached: int = 0) -> JsonObj:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens,
    }


def response_object(
    fields: Mapping[str, Any],
    *,
    tools: Sequence[JsonObj],
    conversation_id: str | None,
    background: bool,
    store: bool,
) -> JsonObj:
    """A new Response from validated create-request `fields`: ``queued`` in the background,
    else ``in_progress``; `output` empty and `usage` null until it ends."""
    return {
        "id": new_id("resp"),
        "object": "response",
        "created_at": now(),
        "status": "queued" if background else "in_progress",
        "background": background,
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "instructions": fields.get("instructions"),
        "max_output_tokens": fields.get("max_output_tokens"),
        "max_tool_calls": fields.get("max_tool_calls"),
        "model": fields["model"],
        "output": [],
        "parallel_tool_calls": _or(fields.get("parallel_tool_calls"), True),
        "previous_response_id": fields.get("previous_response_id"),
        "conversation": {"id": conversation_id} if conversation_id is not None else None,
        "prompt_cache_key": fields.get("prompt_cache_key"),
        "reasoning": fields.get("reasoning") or {"effort": None, "summary": None},
        "safety_identifier": fields.get("safety_identifier"),
        # The tier that served the request: "auto" is served by the default one.
        "service_tier": _tier(fields.get("service_tier")),
        "store": store,
        "temperature": _or(fields.get("temperature"), 1.0),
        "text": fields.get("text") or {"format": {"type": "text"}},
        "tool_choice": _or(fields.get("tool_choice"), "auto"),
        "tools": list(tools),
        "top_logprobs": _or(fields.get("top_logprobs"), 0),
        "top_p": _or(fields.get("top_p"), 1.0),
        "truncation": _or(fields.get("truncation"), "disabled"),
        "user": fields.get("user"),
        "metadata": dict(fields.get("metadata") or {}),
        "usage": None,
    }


def _tier(asked: Any) -> str:
    return asked if isinstance(asked, str) and asked not in ("auto", "") else "default"


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def item_list(items: Sequence[JsonObj]) -> JsonObj:
    """The answer to an items create: the new items as a list envelope."""
    return {
        "object": "list",
        "data": list(items),
        "first_id": items[0]["id"] if items else "",
        "last_id": items[-1]["id"] if items else "",
        "has_more": False,
    }
