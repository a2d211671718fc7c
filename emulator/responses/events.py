"""Streamed responses: the events of wire reference B.7, numbered, kept and served as SSE.

A `ResponseLog` numbers one response's events (``sequence_number`` from 0) into the shared
`EventLog` fan-out, whose readers follow it from any position: the ``POST /responses`` stream
from 0, ``GET /responses/{id}?stream=true`` from 0 or ``starting_after + 1``. A log is closed
after the terminal event (or when the response is cancelled or the server stops).

For one message the events are ``output_item.added``, ``content_part.added``,
``output_text.delta`` x N, ``output_text.done``, ``content_part.done``, ``output_item.done``; for
a function call ``output_item.added``, ``function_call_arguments.delta`` x N,
``function_call_arguments.done``, ``output_item.done``. No ``[DONE]`` is sent.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from starlette.responses import StreamingResponse

from ..common.sse import EventLog, stream_answer
from ..common.wire import JsonObj, chunks
from .objects import output_text_part

__all__ = [
    "TERMINAL_EVENTS",
    "ResponseLog",
    "item_events",
    "replayed_log",
    "stream_response",
]

TEXT_CHUNKS = 4
ARGUMENT_CHUNKS = 3

# The terminal status -> the event that ends a stream (a cancelled response has none).
TERMINAL_EVENTS = {
    "completed": "response.completed",
    "failed": "response.failed",
    "incomplete": "response.incomplete",
}

Event = tuple[str, JsonObj]


def item_events(index: int, item: Mapping[str, Any]) -> list[Event]:
    """The events that stream the output item at `index`, from added to done."""
    done = copy.deepcopy(dict(item))
    if item["type"] == "function_call":
        body = _function_call_events(index, done)
    elif item["type"] == "message":
        body = _message_events(index, done)
    else:
        body = []
    return [
        ("response.output_item.added", {"output_index": index, "item": _opening(done)}),
        *body,
        ("response.output_item.done", {"output_index": index, "item": done}),
    ]


def _opening(item: JsonObj) -> JsonObj:
    """The item as ``output_item.added`` shows it: in progress, with nothing in it yet."""
    if item["type"] == "function_call":
        return {**item, "arguments": "", "status": "in_progress"}
    if item["type"] == "message":
        return {**item, "content": [], "status": "in_progress"}
    return item


def _function_call_events(index: int, item: JsonObj) -> list[Event]:
    where = {"item_id": item["id"], "output_index": index}
    events: list[Event] = [
        ("response.function_call_arguments.delta", {**where, "delta": piece})
        for piece in chunks(item["arguments"], ARGUMENT_CHUNKS)
    ]
    events.append(
        ("response.function_call_arguments.done", {**where, "arguments": item["arguments"]})
    )
    return events


def _message_events(index: int, item: JsonObj) -> list[Event]:
    events: list[Event] = []
    for content_index, part in enumerate(item["content"]):
        where = {"item_id": item["id"], "output_index": index, "content_index": content_index}
        text = part.get("text", "")
        events.append(("response.content_part.added", {**where, "part": output_text_part("")}))
        events.extend(
            ("response.output_text.delta", {**where, "delta": piece, "logprobs": []})
            for piece in chunks(text, TEXT_CHUNKS)
        )
        events.append(("response.output_text.done", {**where, "text": text, "logprobs": []}))
        events.append(("response.content_part.done", {**where, "part": part}))
    return events


class ResponseLog:
    """The numbered events of one response, kept in the shared `EventLog` fan-out."""

    def __init__(self) -> None:
        self.events = EventLog()

    def __len__(self) -> int:
        return len(self.events)

    @property
    def closed(self) -> bool:
        return self.events.closed

    def append(self, event_type: str, payload: Mapping[str, Any]) -> None:
        data = {"type": event_type, "sequence_number": len(self.events), **payload}
        self.events.append(event_type, data)

    def lifecycle(self, event_type: str, response: Mapping[str, Any]) -> None:
        """A ``response.*`` event carrying a snapshot of the whole response."""
        self.append(event_type, {"response": response})

    def close(self) -> None:
        self.events.close()


def replayed_log(response: Mapping[str, Any]) -> ResponseLog:
    """A closed log rebuilt from a finished response (its live log is not saved on restart)."""
    log = ResponseLog()
    opening = {
        **response,
        "status": "queued" if response["background"] else "in_progress",
        "output": [],
        "usage": None,
        "error": None,
        "incomplete_details": None,
        "completed_at": None,
    }
    log.lifecycle("response.created", opening)
    if response["background"]:
        log.lifecycle("response.queued", opening)
    log.lifecycle("response.in_progress", {**opening, "status": "in_progress"})
    for index, item in enumerate(response["output"]):
        for event_type, payload in item_events(index, item):
            log.append(event_type, payload)
    terminal = TERMINAL_EVENTS.get(response["status"])
    if terminal is not None:
        log.lifecycle(terminal, response)
    log.close()
    return log


def stream_response(log: ResponseLog, start: int = 0) -> StreamingResponse:
    """The HTTP answer that streams `log` from event `start` (no ``[DONE]`` at the end)."""
    return stream_answer(log.events, start)
