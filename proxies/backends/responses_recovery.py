"""What a Responses conversation holds, read back after a failure whose outcome is unknown.

The Responses API cannot list responses, so an attempt whose reply was lost (the create
request reset, a stream cut before its first event) cannot be looked up by id. The
conversation can: when a response completes, its input (the user's message, or the tool
outputs) and its output items are added to the conversation together, and a response that
failed or was cancelled adds nothing. So the items newer than the last one this process saw
tell whether the attempt ran, and what it answered.

Reading the items is not enough to decide whether to send an attempt again: a background
response that is still running has added nothing yet, and if it ends between that read and
the new request, the new request starts a second model turn for the same step. A response
running on a conversation locks it (a create answers `conversation_locked`), and once it ends
its items are in place, so `ensure_free` asks first (with a request the server refuses
either way: it starts nothing), and the items are read only once the conversation is free.

It is also where the conversation is kept usable: a `function_call` item left without a
`function_call_output` would make every later response fail, so `close_open_calls` answers
each such call with an output saying it was cancelled.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from openai import AsyncOpenAI, RequestOptions
from openai.types.responses import Response

from proxies.backends.sdk_errors import call_sdk
from proxies.errors import BackendBadRequestError
from tools.types import ToolCall

__all__ = ["Outcome", "attempt_outcome", "close_open_calls", "ensure_free", "items_after"]

logger = logging.getLogger(__name__)

#: How many of the newest items are read back: far more than one exchange adds.
RECENT_ITEMS = 100
CANCELLED_OUTPUT = (
    "The user cancelled this tool call before its result was used; it was not completed."
)
LOCKED = "conversation_locked"
_BEARER: Final[RequestOptions] = {"security": {"bearer_auth": True}}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a finished attempt left in the conversation."""

    calls: tuple[ToolCall, ...]
    texts: tuple[str, ...]
    newest_item: str


def _text(item: Any) -> str:
    return "".join(
        getattr(part, "text", "") or ""
        for part in getattr(item, "content", None) or ()
        if getattr(part, "type", "") in ("input_text", "output_text", "text")
    )


async def _newest(client: AsyncOpenAI, conversation_id: str) -> list[Any]:
    page = await call_sdk(
        lambda: client.conversations.items.list(conversation_id, order="desc", limit=RECENT_ITEMS)
    )
    return list(page.data)


async def items_after(client: AsyncOpenAI, conversation_id: str, known: str | None) -> list[Any]:
    """The conversation's items newer than `known` (all recent ones if None), oldest first."""
    newer: list[Any] = []
    for item in await _newest(client, conversation_id):
        if known is not None and item.id == known:
            break
        newer.append(item)
    return newer[::-1]


def attempt_outcome(
    items: Sequence[Any], *, text: str | None, submitted: Sequence[str]
) -> Outcome | None:
    """The outcome of the attempt whose input was the user's `text` (starting) or the outputs
    of the `submitted` calls (submitting), if `items` show it finished; else None."""
    wanted = set(submitted)
    last_input = -1
    for index, item in enumerate(items):
        kind = getattr(item, "type", "")
        if text is not None and kind == "message" and getattr(item, "role", "") == "user":
            if _text(item) == text:
                last_input = index
        elif kind == "function_call_output" and getattr(item, "call_id", None) in wanted:
            last_input = index
    if last_input < 0 or last_input == len(items) - 1:
        return None
    answered = {i.call_id for i in items if getattr(i, "type", "") == "function_call_output"}
    calls: list[ToolCall] = []
    texts: list[str] = []
    for item in items[last_input + 1 :]:
        kind = getattr(item, "type", "")
        if kind == "function_call" and item.call_id not in answered:
            calls.append(ToolCall(id=item.call_id, name=item.name, arguments=item.arguments))
        elif kind == "message" and getattr(item, "role", "") == "assistant" and _text(item):
            texts.append(_text(item))
    return Outcome(tuple(calls), tuple(texts), items[-1].id)


async def close_open_calls(
    client: AsyncOpenAI, posts: AsyncOpenAI, conversation_id: str
) -> tuple[str, ...]:
    """Answer every function call of the conversation's recent items that has no output yet;
    the call ids answered. Safe to repeat: it reads what is open before it writes."""
    items = await _newest(client, conversation_id)
    answered = {i.call_id for i in items if getattr(i, "type", "") == "function_call_output"}
    open_calls = [
        i.call_id
        for i in items
        if getattr(i, "type", "") == "function_call" and i.call_id not in answered
    ]
    if open_calls:
        outputs: list[Any] = [
            {"type": "function_call_output", "call_id": call_id, "output": CANCELLED_OUTPUT}
            for call_id in reversed(open_calls)  # oldest first, as they were asked
        ]
        await call_sdk(lambda: posts.conversations.items.create(conversation_id, items=outputs))
    return tuple(open_calls)


async def ensure_free(posts: AsyncOpenAI, conversation_id: str, model: str) -> bool:
    """Return True once no response runs on the conversation; raise the server's
    `conversation_locked` error while one does. False when the server cannot tell (it took the
    question as a request; that response is cancelled at once).

    The question is a create whose only input answers a call that does not exist: the server
    refuses it, with `conversation_locked` while a response runs and with "No tool call found
    ..." (400) otherwise, and starts nothing either way. Any other failure is raised.
    """
    body = {
        "model": model,
        "conversation": conversation_id,
        "input": [
            {"type": "function_call_output", "call_id": f"call_{uuid.uuid4().hex}", "output": ""}
        ],
        "background": True,
        "store": True,
        "max_output_tokens": 16,
    }
    try:
        taken = await call_sdk(
            lambda: posts.post("/responses", cast_to=Response, body=body, options=_BEARER)
        )
    except BackendBadRequestError as exc:
        if exc.code == LOCKED:
            raise
        return True
    logger.warning(
        "the server accepted an output for an unknown call (response %s): cancelling it; "
        "an attempt whose reply was lost is now looked for without asking first",
        taken.id,
    )
    await call_sdk(lambda: posts.responses.cancel(taken.id))
    return False
