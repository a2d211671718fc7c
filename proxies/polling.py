"""When to look at a run again: the server's hint, else what this assistant's turns have taken.

The Assistants API says how long to wait (`openai-poll-after-ms`); the Responses API says
nothing. A fixed backoff then either floods the server (short steps) or oversleeps the end of
every turn (long ones): with turns of 0.3 s and a backoff from 0.1 s by 1.5x, the reply was
seen about 0.2 s late per turn. Here the proxy learns instead: each turn's length is measured
(between the last look that found it working and the first that found it done), smoothed
over the assistant's recent turns, and the first look at a new turn comes just before that
length has passed; then short steps follow, growing from a tenth of the expected length, so a
turn that runs long is not polled hard. With nothing learnt yet, the policy's backoff.

Turn lengths are kept per assistant for the process (a new conversation with the same
assistant starts with what the others learnt), a bounded number of assistants.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Final

from proxies.policy import ExchangePolicy

__all__ = ["TurnClock", "TurnWatch", "turn_clock"]

#: The first look comes at this fraction of the expected turn length.
LEAD: Final = 0.9
#: After that, steps start at this fraction of the expected length (at least `MIN_STEP_S`).
STEP: Final = 0.1
MIN_STEP_S: Final = 0.02
#: Weight of the newest turn in the smoothed length.
SMOOTHING: Final = 0.3
#: Assistants whose turn lengths are remembered.
_REMEMBERED: Final = 256


class TurnClock:
    """The smoothed length of one assistant's turns (thread-safe: one per process)."""

    def __init__(self) -> None:
        self._expected: float | None = None
        self._lock = threading.Lock()

    @property
    def expected_s(self) -> float | None:
        """The expected length of a turn, None before the first was measured."""
        return self._expected

    def learn(self, length_s: float) -> None:
        with self._lock:
            if self._expected is None:
                self._expected = length_s
            else:
                self._expected += SMOOTHING * (length_s - self._expected)

    def watch(self, policy: ExchangePolicy) -> TurnWatch:
        """Start timing a turn that has just been handed to the server."""
        return TurnWatch(self, policy)


class TurnWatch:
    """One turn: when to look next, and what its length turned out to be."""

    def __init__(self, clock: TurnClock, policy: ExchangePolicy) -> None:
        self._clock = clock
        self._policy = policy
        self._started = time.monotonic()
        self._last_working: float | None = None
        self._delay: float | None = None  # the previous step, for the growth
        self._done = False

    def next_delay(self, server_hint: float | None) -> float:
        """Seconds to wait before the next look."""
        expected = self._clock.expected_s
        if server_hint is not None or expected is None:
            self._delay = self._policy.next_poll_delay(self._delay, server_hint)
            return self._delay
        until_lead = expected * LEAD - (time.monotonic() - self._started)
        if self._last_working is None and until_lead > 0:
            return min(until_lead, self._policy.poll_max_s)
        if self._delay is None:
            self._delay = max(expected * STEP, MIN_STEP_S)
        else:
            self._delay *= self._policy.poll_factor
        self._delay = min(self._delay, self._policy.poll_max_s)
        return self._delay

    def seen(self, working: bool) -> None:
        """A look found the turn still `working`, or over (its length is learnt, once)."""
        now = time.monotonic()
        if working:
            self._last_working = now
            return
        if self._done:
            return
        self._done = True
        end = now if self._last_working is None else (self._last_working + now) / 2
        self._clock.learn(end - self._started)


_clocks: OrderedDict[str, TurnClock] = OrderedDict()
_clocks_lock = threading.Lock()


def turn_clock(assistant_id: str) -> TurnClock:
    """The process's clock for `assistant_id`'s turns."""
    with _clocks_lock:
        clock = _clocks.get(assistant_id)
        if clock is None:
            clock = _clocks[assistant_id] = TurnClock()
            while len(_clocks) > _REMEMBERED:
                _clocks.popitem(last=False)
        else:
            _clocks.move_to_end(assistant_id)
        return clock
