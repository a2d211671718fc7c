"""Server-sent events for both protocols: one fan-out (`EventLog`) with one keep-alive.

An `EventLog` holds the SSE frames of one run or one response, in order, each serialised when
appended so that later changes to the object do not leak into it. Any number of readers follow
a log from any position: a stream opened by a POST reads from where the log stood when the
request was accepted, a resumed Responses stream from ``starting_after + 1``. A reader stops
after a frame marked `ends_stream` (an Assistants run pausing for tool outputs, or ending) or
when the log is closed (terminal event, cancel, thread deleted, server stopping). While nothing
happens (a stalled run) a reader sends a comment now and then, so no client read timeout fires
between events.

The two protocols differ only in their frames: the Assistants one ends every stream with
``event: done`` / ``data: [DONE]``; the Responses one numbers its events and sends no ``[DONE]``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import StreamingResponse

__all__ = ["DONE_FRAME", "KEEPALIVE_SECONDS", "EventLog", "frame", "stream_answer"]

KEEPALIVE_SECONDS = 15.0
KEEPALIVE_FRAME = ": keepalive\n\n"
DONE_FRAME = "event: done\ndata: [DONE]\n\n"


def frame(name: str, data: str) -> str:
    """One SSE frame; multi-line data gets one ``data:`` line per line."""
    lines = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"event: {name}\n{lines}\n"


@dataclass(frozen=True, slots=True)
class _Frame:
    text: str
    ends_stream: bool


class EventLog:
    """The frames of one run or response, for live readers and replays."""

    def __init__(self) -> None:
        self._frames: list[_Frame] = []
        self._changed = asyncio.Event()
        self.closed = False

    def __len__(self) -> int:
        return len(self._frames)

    def append(self, name: str, data: Mapping[str, Any], *, ends_stream: bool = False) -> None:
        """Add one event (ignored once the log is closed) and wake the readers."""
        if self.closed:
            return
        self._frames.append(_Frame(frame(name, json.dumps(data)), ends_stream))
        self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def frames(
        self,
        start: int = 0,
        *,
        trailer: str | None = None,
        keepalive: float = KEEPALIVE_SECONDS,
    ) -> AsyncIterator[str]:
        """Every frame from `start` on, until one ends the stream or the log is closed; then
        `trailer`, if any."""
        index = max(0, start)
        while True:
            ended = False
            while index < len(self._frames) and not ended:
                current = self._frames[index]
                yield current.text
                index += 1
                ended = current.ends_stream
            if ended or (self.closed and index >= len(self._frames)):
                break
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), keepalive)
            except TimeoutError:
                yield KEEPALIVE_FRAME
        if trailer is not None:
            yield trailer


def stream_answer(
    log: EventLog,
    start: int = 0,
    *,
    trailer: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> StreamingResponse:
    """The HTTP answer that streams `log` from frame `start`."""
    return StreamingResponse(
        log.frames(start, trailer=trailer),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", **(headers or {})},
    )
