"""Reading a run's stream: items become mediator triggers; a break is told apart by when it
happened.

A break before the stream delivered anything leaves the request's outcome unknown: it is the
caller's to reconcile (`StreamNeverStarted` is the backend error itself, re-raised). A break
after it delivered something means the request was taken: the stream is resumed where it
broke when the protocol can, else the run is polled.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mediator.errors import ExchangeFailedError
from proxies.backends.base import Backend, RunSnapshot, RunStatus, StreamItem, TextDelta
from proxies.errors import BackendError

if TYPE_CHECKING:
    from mediator.base import Mediator

__all__ = ["StreamReader"]

logger = logging.getLogger(__name__)

#: Resumptions of one broken stream before falling back to polling the run.
RESUMES = 3


class _StreamBroke(Exception):
    """A stream broke after it had delivered something (so the request was taken)."""

    def __init__(self, cause: BackendError) -> None:
        super().__init__(cause.message)
        self.cause = cause


@dataclass
class _Seen:
    """What one stream has delivered so far."""

    #: Called with the stream's first snapshot; True when that accounts for the snapshot
    #: (the run's start), False when the usual heartbeat should follow (outputs accepted).
    on_first: Callable[[RunSnapshot], bool] | None
    delivered: bool = False
    last: RunStatus | None = None
    final: RunSnapshot | None = None


class StreamReader:
    """Follows the streams of one conversation's exchanges for its Assistant Proxy."""

    def __init__(
        self,
        mediator: Mediator,
        backend: Backend,
        poll: Callable[[str, str], Awaitable[RunSnapshot]],
    ) -> None:
        self._mediator = mediator
        self._backend = backend
        self._poll = poll
        #: True once the current exchange's reply arrived as text deltas.
        self.streamed_text = False

    async def follow(
        self,
        thread_id: str,
        stream: AsyncIterator[StreamItem],
        run_id: Callable[[], str | None],
        *,
        on_first: Callable[[RunSnapshot], bool] | None = None,
    ) -> RunSnapshot:
        """Consume `stream` until the run needs action or ends (see the module docstring);
        `run_id` gives the run once the stream has named it."""
        resumes = 0
        while True:
            try:
                return await self._consume(stream, on_first)
            except _StreamBroke as broke:
                known = run_id()
                assert known is not None  # the stream delivered: its run is known
                on_first = None
                if self._backend.supports_resume and resumes < RESUMES:
                    resumes += 1
                    logger.warning("stream of run %s broke (%s); resuming", known, broke)
                    stream = self._backend.resume_stream(thread_id, known)
                    continue
                logger.warning("stream of run %s broke (%s); polling it", known, broke)
                return await self._poll(thread_id, known)

    async def _consume(
        self,
        stream: AsyncIterator[StreamItem],
        on_first: Callable[[RunSnapshot], bool] | None,
    ) -> RunSnapshot:
        """The snapshot the stream ended with. The stream is read to its end even after the
        final snapshot (the server closes right after it), so that no half-read HTTP response
        is left to the garbage collector."""
        seen = _Seen(on_first)
        try:
            async for item in stream:
                if seen.final is None:
                    self._take(item, seen)
        except BackendError as exc:
            if seen.final is not None:
                return seen.final  # a break after the final snapshot loses nothing that matters
            if not seen.delivered or not exc.retryable:
                raise
            raise _StreamBroke(exc) from exc
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        if seen.final is not None:
            return seen.final
        if not seen.delivered:
            raise ExchangeFailedError("the stream ended before the run started")
        raise _StreamBroke(BackendError("the stream ended before the run did"))

    def _take(self, item: StreamItem, seen: _Seen) -> None:
        if isinstance(item, TextDelta):
            self.streamed_text = True
            self._mediator.message_delta(item.text)
            return
        accounted = False
        if not seen.delivered:
            seen.delivered = True
            if seen.on_first is not None:
                accounted = seen.on_first(item)
        if not accounted and item.status.is_active and item.status is not seen.last:
            self._mediator.heartbeat(item.status.value)
        seen.last = item.status
        seen.final = None if item.status.is_active else item
