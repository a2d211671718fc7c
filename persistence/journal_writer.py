"""Group commit for the exchange journal: one writer thread, one transaction for every fact
that is waiting.

A conversation's journal facts must be durable before the call that wrote them returns (that
is what keeps a tool call to one run across a SIGKILL), but a transaction and a thread hop per
fact cost more than the fact: with many conversations the default executor's few threads
queued every conversation's facts behind the others', past the proxies' wait bound. Here every
fact, from any conversation or thread, is queued with a future; the writer thread takes all
that are waiting, inserts them in one transaction, commits, and only then resolves their
futures. While one commit runs the next batch gathers, so a thousand conversations share a
few commits instead of queueing for a thousand.

A caller that stops waiting (the proxies' bound on a database that does not answer) cancels
its future: a fact not yet taken is then never written, late and out of order. The thread
ends after `IDLE_S` without work (an engine a test threw away leaves no thread behind) and
starts again with the next fact.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["IDLE_S", "JournalWriter"]

IDLE_S: Final = 30.0
"""Seconds without a fact after which the writer thread ends (it restarts on demand)."""

Rows = list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Pending:
    rows: Rows
    future: Future[None]


class JournalWriter:
    """Commits queued rows with `commit` (one call, one transaction, per batch) in its thread.

    `commit` receives the rows of every fact taken, in the order they were queued; it must
    insert all of them or raise (then every fact of the batch fails with that error).
    """

    def __init__(self, commit: Callable[[Rows], None], *, name: str = "journal-writer") -> None:
        self._commit = commit
        self._name = name
        self._pending: list[_Pending] = []
        self._wakeup = threading.Condition(threading.Lock())
        self._running = False
        self._pid = os.getpid()
        #: Transactions committed so far (tests assert that concurrent facts share them).
        self.commits = 0

    def submit(self, rows: Rows) -> Future[None]:
        """Queue `rows`; the future resolves once they are committed (or fails with why not)."""
        item = _Pending(rows, Future())
        if self._pid != os.getpid():  # a forked child: the parent's thread is not here
            self._pid, self._pending, self._running = os.getpid(), [], False
            self._wakeup = threading.Condition(threading.Lock())
        with self._wakeup:
            self._pending.append(item)
            if self._running:
                self._wakeup.notify()
            else:
                self._running = True
                threading.Thread(target=self._run, name=self._name, daemon=True).start()
        return item.future

    def write(self, rows: Rows) -> None:
        """`submit` and wait: durable when this returns."""
        self.submit(rows).result()

    def _take(self) -> list[_Pending] | None:
        """Everything waiting, after waiting for something; None when idle for `IDLE_S`."""
        with self._wakeup:
            if not self._pending:
                self._wakeup.wait(IDLE_S)
            if not self._pending:
                self._running = False
                return None
            batch, self._pending = self._pending, []
        return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            # A fact whose caller gave up before it was taken is dropped, never written late.
            live = [item for item in batch if item.future.set_running_or_notify_cancel()]
            if not live:
                continue
            try:
                self._commit([row for item in live for row in item.rows])
            except Exception as exc:  # every caller of the batch hears of it
                for item in live:
                    item.future.set_exception(exc)
            else:
                self.commits += 1
                for item in live:
                    item.future.set_result(None)
