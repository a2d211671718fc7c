"""Writing to (and reading from) the exchange journal without letting it hold a conversation.

A journal that queues its writes (`mediator.journal.QueuedJournal`: the database one, which
commits them in groups in its own thread) is handed each fact and awaited: no thread hop per
fact, and durable when the await returns; it answers a read it can from memory at once. Other
blocking calls (reads of the database, a journal that does not queue) run in a worker thread.
A journal that fails, or does not answer within `JOURNAL_WAIT_S` (a database that is down or
blackholed), is logged and skipped: the conversation goes on, as it does when the event
recorder cannot write. What is lost then is only the guarantee for that step across a crash
of this process, and the warning says so.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Final, TypeVar, cast

from mediator.journal import QueuedJournal

__all__ = ["JOURNAL_WAIT_S", "journaled"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

JOURNAL_WAIT_S: Final = 3.0
"""Longest wait for one journal call before the conversation goes on without it."""

_queues: dict[type, bool] = {}
"""Whether a journal type is a `QueuedJournal`, by type: a protocol's ``isinstance`` checks
every member each time, and this is asked several times an exchange."""


def _is_queued(owner: object) -> bool:
    kind = type(owner)
    queued = _queues.get(kind)
    if queued is None:
        queued = _queues[kind] = isinstance(owner, QueuedJournal)
    return queued


async def journaled(call: Callable[..., T], *args: object) -> T | None:
    """`call(*args)`, bounded by `JOURNAL_WAIT_S`; None (and a warning) if it failed.

    A journal method whose owner says it never blocks (``blocks = False``, the in-memory
    journal) is called inline, and one of a `QueuedJournal` is queued and its future awaited:
    with many conversations, a hop to the default executor's few threads per journal call
    would queue every conversation behind the others. Any other runs in a worker thread.
    """
    owner = getattr(call, "__self__", None)
    try:
        if not getattr(owner, "blocks", True):
            return call(*args)
        if _is_queued(owner):
            queued = cast("QueuedJournal", owner).submit(call, *args)
            if queued is not None:
                if queued.done():  # answered from memory
                    return cast("T", queued.result())
                # Cancelled on timeout: a fact the writer has not taken yet is never written.
                async with asyncio.timeout(JOURNAL_WAIT_S):
                    return cast("T", await asyncio.wrap_future(queued))
        return await asyncio.wait_for(asyncio.to_thread(call, *args), JOURNAL_WAIT_S)
    except Exception as exc:  # the journal's database is away: go on, say what is at stake
        logger.warning(
            "the exchange journal is unavailable (%s: %s); going on without it: a crash now "
            "could not be resumed exactly",
            type(exc).__name__,
            str(exc).splitlines()[0][:200] if str(exc) else "",
        )
        return None
