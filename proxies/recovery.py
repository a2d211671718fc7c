"""How the Assistant Proxy waits before trying again after a failure.

A request that failed ambiguously is never simply sent again: the proxy first looks at what
exists (`Backend.find_run`), and only when nothing does does it try again, after a pause that
grows with each attempt, is spread by jitter (so many conversations hit by one outage do not
come back in step) and honours the server's `retry-after`.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

from proxies.errors import BackendError
from proxies.policy import ExchangePolicy

__all__ = ["RetryPause", "worth_retrying"]

#: A conversation busy with a response that this exchange cannot name yet: wait, look again.
LOCKED_CODES = frozenset({"conversation_locked"})


def worth_retrying(exc: BackendError) -> bool:
    """True when the same step may succeed later: no answer, a server error, a rate limit,
    or a conversation still locked by an earlier (possibly our own, unseen) response."""
    return exc.retryable or exc.code in LOCKED_CODES


@dataclass
class RetryPause:
    """Growing, jittered pauses for one step of one exchange (the exchange deadline bounds
    how many there are)."""

    policy: ExchangePolicy
    _next_s: float = field(default=0.0, init=False)

    async def wait(self, exc: BackendError | None = None) -> None:
        base = self._next_s or self.policy.poll_initial_s
        self._next_s = min(base * 2, self.policy.poll_max_s)
        delay = base * random.uniform(0.5, 1.5)  # noqa: S311 - spreading retries, not secrets
        if exc is not None and exc.retry_after_s is not None:
            delay = max(delay, exc.retry_after_s)
        await asyncio.sleep(delay)
