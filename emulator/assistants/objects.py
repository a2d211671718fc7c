"""Factories for complete Assistants v2 wire objects, every nullable field written out.

These functions are the only place that knows an object's full field list.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..common.wire import JsonObj, new_id, now

__all__ = [
    "assistant_object",
    "message_object",
    "message_text",
    "run_object",
    "step_object",
    "text_block",
    "thread_object",
    "usage_object",
]


def assistant_object(fields: Mapping[str, Any], *, assistant_id: str | None = None) -> JsonObj:
    """An Assistant from create-request fields (already validated)."""
    return {
        "id": assistant_id or new_id("asst"),
        "object": "assistant",
        "created_at": now(),
        "name": fields.get("name"),
        "description": fields.get("description"),
        "model": fields["model"],
        "instructions": fields.get("instructions"),
        "tools": list(fields.get("tools") or []),
        "metadata": dict(fields.get("metadata") or {}),
        "temperature": fields.get("temperature", 1.0),
        "top_p": fields.get("top_p", 1.0),
        "response_format": fields.get("response_format") or "auto",
        "tool_resources": dict(fields.get("tool_resources") or {}),
        "reasoning_effort": fields.get("reasoning_effort"),
    }


def thread_object(
    metadata: Mapping[str, str] | None = None, tool_resources: Mapping[str, Any] | None = None
) -> JsonObj:
    return {
        "id": new_id("thread"),
        "object": "thread",
        "created_at": now(),
        "metadata": dict(metadata or {}),
        "tool_resources": dict(tool_resources or {}),
    }


def text_block(value: str) -> JsonObj:
    return {"type": "text", "text": {"value": value, "annotations": []}}


def message_object(
    thread_id: str,
    role: str,
    content: Sequence[JsonObj],
    *,
    assistant_id: str | None = None,
    run_id: str | None = None,
    status: str = "completed",
    attachments: Sequence[JsonObj] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> JsonObj:
    created = now()
    return {
        "id": new_id("msg"),
        "object": "thread.message",
        "created_at": created,
        "thread_id": thread_id,
        "role": role,
        "status": status,
        "content": list(content),
        "assistant_id": assistant_id,
        "run_id": run_id,
        "attachments": list(attachments or []),
        "metadata": dict(metadata or {}),
        "completed_at": created if status == "completed" else None,
        "incomplete_at": None,
        "incomplete_details": None,
    }


def message_text(message: Mapping[str, Any]) -> str:
    """The text blocks of a message, joined by newlines (images are left out)."""
    parts = [
        block["text"]["value"]
        for block in message.get("content", [])
        if block.get("type") == "text" and isinstance(block.get("text"), dict)
    ]
    return "\n".join(parts)


def run_object(
    thread_id: str,
    assistant_id: str,
    *,
    model: str,
    instructions: str,
    tools: Sequence[JsonObj],
    expires_at: int,
    options: Mapping[str, Any],
) -> JsonObj:
    """A new queued Run. `options` holds the optional create-request fields that are echoed."""
    truncation = options.get("truncation_strategy") or {"type": "auto", "last_messages": None}
    return {
        "id": new_id("run"),
        "object": "thread.run",
        "created_at": now(),
        "assistant_id": assistant_id,
        "thread_id": thread_id,
        "status": "queued",
        "started_at": None,
        "expires_at": expires_at,
        "cancelled_at": None,
        "failed_at": None,
        "completed_at": None,
        "required_action": None,
        "last_error": None,
        "incomplete_details": None,
        "usage": None,
        "model": model,
        "instructions": instructions,
        "tools": list(tools),
        "metadata": dict(options.get("metadata") or {}),
        "temperature": _or(options.get("temperature"), 1.0),
        "top_p": _or(options.get("top_p"), 1.0),
        "max_prompt_tokens": options.get("max_prompt_tokens"),
        "max_completion_tokens": options.get("max_completion_tokens"),
        "truncation_strategy": {"last_messages": None, **truncation},
        "response_format": options.get("response_format") or "auto",
        "tool_choice": options.get("tool_choice") or "auto",
        "parallel_tool_calls": _or(options.get("parallel_tool_calls"), True),
        "reasoning_effort": options.get("reasoning_effort"),
    }


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


def step_object(run: Mapping[str, Any], step_type: str, details: JsonObj) -> JsonObj:
    """A new in-progress RunStep of `run`."""
    return {
        "id": new_id("step"),
        "object": "thread.run.step",
        "created_at": now(),
        "assistant_id": run["assistant_id"],
        "thread_id": run["thread_id"],
        "run_id": run["id"],
        "type": step_type,
        "status": "in_progress",
        "step_details": details,
        "cancelled_at": None,
        "completed_at": None,
        "expired_at": None,
        "failed_at": None,
        "last_error": None,
        "usage": None,
        "metadata": {},
    }


def usage_object(prompt_tokens: int, completion_tokens: int) -> JsonObj:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }
