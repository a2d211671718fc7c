"""Keeping a conversation usable after an exchange ended early (deadline, cancel, failure).

Whatever the ending, no run may be left working and no tool call left without an output:
either would refuse (or hold up) the next message. `Settler` remembers what an ended exchange
may have left, settles it at once within the cancel timeout, and, if the server was not ready
(a run still cancelling, the API away), settles it before the next exchange starts.
"""

from __future__ import annotations

import asyncio
import logging

from proxies.backends.base import Backend
from proxies.errors import BackendError
from proxies.policy import ExchangePolicy
from proxies.recovery import RetryPause, worth_retrying

__all__ = ["Settler"]

logger = logging.getLogger(__name__)


class Settler:
    """What one conversation's ended exchanges may have left on the server."""

    def __init__(self, backend: Backend, policy: ExchangePolicy) -> None:
        self._backend = backend
        self._policy = policy
        # (run id if known, exchange id) of an exchange that may still hold the conversation.
        self._unsettled: tuple[str | None, str] | None = None

    async def after_early_end(self, thread_id: str, run_id: str | None, exchange_id: str) -> None:
        """Settle what exchange `exchange_id` left, within the cancel timeout, never raising;
        what is left then is settled before the next exchange (`before_next`)."""
        self._unsettled = (run_id, exchange_id)
        if self._policy.cancel_timeout_s == 0:
            return
        try:
            async with asyncio.timeout(self._policy.cancel_timeout_s):
                await asyncio.shield(self._once(thread_id))
        except (BackendError, TimeoutError) as exc:
            # The API is unreachable or the run is slow to stop: settled before the next one.
            logger.info("could not settle exchange %s yet: %s", exchange_id, exc)

    async def before_next(self, thread_id: str) -> None:
        """Before a new run, make sure an earlier one no longer holds the conversation."""
        pause = RetryPause(self._policy)
        while self._unsettled is not None:
            try:
                if await self._once(thread_id):
                    return
            except BackendError as exc:
                if not worth_retrying(exc):
                    raise
                logger.info("earlier run not settled yet: %s", exc)
            await pause.wait()

    async def _once(self, thread_id: str) -> bool:
        if self._unsettled is None:
            return True
        run_id, exchange_id = self._unsettled
        if run_id is None and self._backend.runs_are_exchanges:
            run_id = exchange_id
        elif run_id is None:  # the run was never seen: did the attempt create one?
            found = await self._backend.find_run(thread_id, exchange_id)
            if found is None:
                self._unsettled = None
                return True
            run_id = found.run_id
        settled = await self._backend.settle_run(thread_id, run_id)
        if settled:
            self._unsettled = None
        return settled
