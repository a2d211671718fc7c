"""Run events: the lifecycle publishes them, open SSE streams subscribe to them.

An event is the SSE `event:` name and the JSON text of its data, serialised when published so
that later changes to the object do not leak into it. A run with no subscriber publishes into
nothing. `None` on a queue means "no more events" (thread deleted, server stopping).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = ["EventHub", "RunEvent", "Subscription"]


@dataclass(frozen=True, slots=True)
class RunEvent:
    name: str
    data: str

    @property
    def ends_stream(self) -> bool:
        """A stream ends when its run stops for outputs or reaches a terminal status."""
        return self.name in _STREAM_ENDINGS


_STREAM_ENDINGS = frozenset(
    {
        "thread.run.requires_action",
        "thread.run.completed",
        "thread.run.failed",
        "thread.run.incomplete",
        "thread.run.cancelled",
        "thread.run.expired",
    }
)

Subscription: TypeAlias = "asyncio.Queue[RunEvent | None]"


class EventHub:
    def __init__(self) -> None:
        self._subscribers: dict[str, list[Subscription]] = {}

    def subscribe(self, run_id: str) -> Subscription:
        queue: Subscription = asyncio.Queue()
        self._subscribers.setdefault(run_id, []).append(queue)
        return queue

    def unsubscribe(self, run_id: str, queue: Subscription) -> None:
        queues = self._subscribers.get(run_id, [])
        if queue in queues:
            queues.remove(queue)
        if not queues:
            self._subscribers.pop(run_id, None)

    def publish(self, run_id: str, name: str, data: Mapping[str, Any]) -> None:
        queues = self._subscribers.get(run_id)
        if not queues:
            return
        event = RunEvent(name, json.dumps(data))
        for queue in queues:
            queue.put_nowait(event)

    def close(self, run_id: str) -> None:
        """End every stream of one run."""
        for queue in self._subscribers.pop(run_id, []):
            queue.put_nowait(None)

    def close_all(self) -> None:
        for run_id in list(self._subscribers):
            self.close(run_id)
