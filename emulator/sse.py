"""Server-sent events for streamed runs: ``event: <name>`` / ``data: <json>`` frames.

A stream forwards its run's events until the run stops for tool outputs or ends, then sends
``event: done`` / ``data: [DONE]`` and closes. While nothing happens (a stalled run) it sends a
comment now and then, so no client read timeout fires between events.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from starlette.responses import StreamingResponse

from .events import RunEvent, Subscription

__all__ = ["event_stream_response", "frame"]

KEEPALIVE_SECONDS = 15.0
DONE_FRAME = "event: done\ndata: [DONE]\n\n"


def frame(name: str, data: str) -> str:
    """One SSE frame; multi-line data gets one ``data:`` line per line."""
    lines = "".join(f"data: {line}\n" for line in data.split("\n"))
    return f"event: {name}\n{lines}\n"


async def _frames(
    queue: Subscription, on_close: Callable[[], None], keepalive: float
) -> AsyncIterator[str]:
    try:
        while True:
            try:
                event: RunEvent | None = await asyncio.wait_for(queue.get(), keepalive)
            except TimeoutError:
                yield ": keepalive\n\n"
                continue
            if event is None:
                break
            yield frame(event.name, event.data)
            if event.ends_stream:
                break
        yield DONE_FRAME
    finally:
        on_close()


def event_stream_response(
    queue: Subscription,
    on_close: Callable[[], None],
    *,
    headers: dict[str, str] | None = None,
    keepalive: float = KEEPALIVE_SECONDS,
) -> StreamingResponse:
    """The HTTP answer for a stream subscribed to `queue`; `on_close` unsubscribes it."""
    return StreamingResponse(
        _frames(queue, on_close, keepalive),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", **(headers or {})},
    )
