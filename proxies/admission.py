"""Admission control: how many exchanges one event loop works on at once, first come first served.

Without it, a process with more conversations than its CPU can serve gives every one of them a
little of each loop turn: all progress together, and nobody gets an answer before almost
everybody does (1,000 users at once: the median user answered at 0.98 of the whole run). With
it, work beyond what the loop can carry waits in line, and the line is served in the order the
conversations came (a conversation's place is taken at its first request and kept), so the
first users are answered first and the last no later than before.

The limit is either fixed (`MAX_EXCHANGES_IN_PROGRESS=N`) or, by default, adapted to how
responsive the loop is: a heartbeat measures how late the loop runs a timer (its lag, which
grows once the loop has more ready work than it can do at once). While the lag stays under a
target and work is waiting, the limit grows; when the lag passes the target, it shrinks. This
follows what an exchange actually costs here (slow model turns need many exchanges in flight
to keep the CPU busy, quick ones few) without anyone having to know it.

Slots are per event loop (asyncio's futures belong to one loop); `Admission` is the process's
view: it hands out places in line and finds the running loop's gate.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import threading
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass

__all__ = ["ADAPTIVE", "Admission", "AdmissionGate", "admission_for"]

#: `MAX_EXCHANGES_IN_PROGRESS=0`: adapt the limit to the loop's lag.
ADAPTIVE = 0


@dataclass(frozen=True, slots=True)
class Adaptation:
    """How the adaptive limit moves (the defaults are what the concurrency bench supports)."""

    #: The loop lag above which the loop counts as overloaded.
    target_lag_s: float = 0.05
    #: How often the heartbeat looks at the loop.
    beat_s: float = 0.025
    #: Beats per decision: the worst lag among them decides.
    window: int = 4
    #: Where the limit starts, and the floor and ceiling it moves between. Up to `floor`
    #: exchanges always go straight in: the lag also grows for reasons no limit cures (a
    #: machine shared with other work), and a few dozen exchanges in progress cost little
    #: latency each; above it, the lag decides.
    start: int = 64
    floor: int = 64
    ceiling: int = 100_000
    #: Growth per window when waiting work finds the loop responsive, and shrink on overload.
    grow: float = 1.25
    shrink: float = 0.8


class AdmissionGate:
    """One event loop's slots: `limit` at most in progress, waiters admitted by place in line.

    `fixed=None` adapts the limit (see the module's docstring); a number fixes it.
    """

    def __init__(self, fixed: int | None = None, adaptation: Adaptation | None = None) -> None:
        if fixed is not None and fixed < 1:
            raise ValueError("a fixed admission limit must be at least 1")
        self._adaptation = adaptation or Adaptation()
        self._fixed = fixed
        self.limit = fixed if fixed is not None else self._adaptation.start
        self.in_progress = 0
        # (place in line, arrival order, future set when admitted)
        self._line: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()
        self._beat: asyncio.TimerHandle | None = None
        self._beats = 0
        self._worst_lag = 0.0

    @property
    def waiting(self) -> int:
        return sum(1 for _, _, future in self._line if not future.done())

    async def acquire(self, place: int) -> None:
        """Wait for a slot; `place` orders the line (lower first, ties by arrival)."""
        if self.in_progress < self.limit and not self._line:
            self.in_progress += 1
            self._watch()
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._line, (place, next(self._arrivals), future))
        self._watch()
        self._admit()  # a free slot behind waiters who left goes to the first in line
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # admitted just as it was cancelled: give the slot on
            raise

    def release(self) -> None:
        """Give a slot back and admit whoever is first in line."""
        self.in_progress -= 1
        self._admit()

    def _admit(self) -> None:
        while self._line and self.in_progress < self.limit:
            _, _, future = heapq.heappop(self._line)
            if future.done():  # cancelled while waiting
                continue
            future.set_result(None)
            self.in_progress += 1

    # -- the adaptive limit --------------------------------------------------------------

    def _watch(self) -> None:
        """Start the heartbeat while there is work (it stops by itself when there is none)."""
        if self._fixed is not None or self._beat is not None:
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + self._adaptation.beat_s
        self._beat = loop.call_at(due, self._heartbeat, loop, due)

    def _heartbeat(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        self._beat = None
        now = loop.time()
        self._worst_lag = max(self._worst_lag, now - due)
        self._beats += 1
        if self._beats >= self._adaptation.window:
            self._decide()
        if self.in_progress or self._line:
            next_due = now + self._adaptation.beat_s
            self._beat = loop.call_at(next_due, self._heartbeat, loop, next_due)

    def _decide(self) -> None:
        rules, lag = self._adaptation, self._worst_lag
        self._beats, self._worst_lag = 0, 0.0
        if lag > rules.target_lag_s:
            self.limit = max(rules.floor, int(self.limit * rules.shrink))
        elif self.waiting and self.in_progress >= self.limit:
            self.limit = min(rules.ceiling, max(self.limit + 1, int(self.limit * rules.grow)))
            self._admit()


class Admission:
    """The process's admission: places in line, and each event loop's gate.

    `limit` is `ADAPTIVE` (0) or a fixed number of exchanges in progress per event loop.
    """

    def __init__(self, limit: int = ADAPTIVE, adaptation: Adaptation | None = None) -> None:
        if limit < 0:
            raise ValueError("the admission limit must be 0 (adaptive) or more")
        self.limit = limit
        self._adaptation = adaptation
        self._places = itertools.count()
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AdmissionGate] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def place(self) -> int:
        """A new place in line (a conversation takes one at its first request and keeps it)."""
        return next(self._places)

    def gate(self) -> AdmissionGate:
        """The running loop's gate."""
        loop = asyncio.get_running_loop()
        with self._lock:
            gate = self._gates.get(loop)
            if gate is None:
                fixed = self.limit if self.limit != ADAPTIVE else None
                gate = self._gates[loop] = AdmissionGate(fixed, self._adaptation)
            return gate

    @contextlib.asynccontextmanager
    async def admitted(self, place: int) -> AsyncIterator[Slot]:
        """Hold a slot of the running loop's gate for the block (waiting in line first)."""
        gate = self.gate()
        await gate.acquire(place)
        slot = Slot(gate)
        try:
            yield slot
        finally:
            slot.release()


class Slot:
    """A slot held; `release()` gives it back early (a person deciding holds none)."""

    def __init__(self, gate: AdmissionGate) -> None:
        self._gate: AdmissionGate | None = gate

    def release(self) -> None:
        gate, self._gate = self._gate, None
        if gate is not None:
            gate.release()


_by_limit: dict[int, Admission] = {}
_by_limit_lock = threading.Lock()


def admission_for(limit: int) -> Admission:
    """The process's `Admission` for a `MAX_EXCHANGES_IN_PROGRESS` value (conversations with
    the same setting share their loop's slots)."""
    with _by_limit_lock:
        found = _by_limit.get(limit)
        if found is None:
            found = _by_limit[limit] = Admission(limit)
        return found
