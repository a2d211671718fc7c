"""The recorder: every published event, stored in batches by one writer thread.

`Recorder.start()` subscribes to every topic. The listener runs in the publisher's thread
(usually the event loop), so it only numbers the event, flattens it into a plain record
(`persistence.records`) and appends it to an in-memory queue: it never touches the database
and never waits for it. One writer thread takes batches off the queue and writes each in one
transaction (`persistence.writer`).

A slow, locked or unreachable database never stalls a conversation: records wait in memory
and the batch is retried with exponential backoff (up to `retry_backoff_max_s`) until it
succeeds. Nothing is lost and nothing duplicated: a batch is one transaction, and writing it
again inserts nothing twice (every event has an ``event_uuid``). A batch the database refuses
for good (a data error, not an outage) is written record by record and only the refused
records are dropped, each logged with its type and position, never its content.

Numbering: every event arrives with the id of its exchange and ``seq``, its position in the
exchange, both given by the mediator that published it; the recorder adds a random
``event_uuid`` (the key that makes writing a batch twice harmless). Events of one run
therefore keep their order; see `persistence.batch_plan` for how the events before the run
(and before the conversation id) are attached once the ids appear. Which assistant and
backend a conversation uses comes from its `ConversationBound` event: the recorder learns
everything from events.

Shutdown: `close()` flushes then stops and is idempotent; an ``atexit`` hook closes at
interpreter exit; `persistence.process.install_signal_handlers` flushes on SIGTERM.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from types import TracebackType

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from mediator.bus import Subscription, subscribe
from mediator.events import ConversationBound, MediatorEvent
from persistence.engine import display_url, is_sqlite, make_engine
from persistence.errors import PersistenceError
from persistence.records import (
    AssistantRecord,
    ConversationNote,
    Record,
    to_record,
)
from persistence.schema import ensure_schema
from persistence.writer import BatchWriter

__all__ = ["Recorder", "RecorderStats"]

_logger = logging.getLogger(__name__)

_FIRST_BACKOFF_S = 0.05


@dataclass(frozen=True, slots=True)
class RecorderStats:
    """Counters since `start()`; ``enqueued == stored + dropped + pending`` once idle."""

    enqueued: int
    stored: int
    dropped: int
    pending: int
    retries: int
    last_error: str | None


def _is_transient(exc: BaseException) -> bool:
    """True for errors worth retrying: the database is away, locked or restarting."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(
        exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeoutError
    )


def _describe(exc: BaseException) -> str:
    """The driver's one-line reason, without the SQL or its parameters (message content)."""
    orig = getattr(exc, "orig", None) or exc
    lines = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {lines[0][:200] if lines else ''}"


class Recorder:
    """Stores every mediator event published in this process; see the module docstring.

    Args:
        engine_or_url: an `Engine` (kept open on close) or a URL (default `DATABASE_URL`).
        batch_size: most records per transaction.
        flush_interval_s: how long the writer waits to fill a batch before writing it.
        retry_backoff_max_s: longest wait between two attempts while the database is away.
        auto_migrate: create or upgrade the schema on `start()`. None (default) means yes for
            sqlite (a local file, the offline quick start) and no for a server database,
            where ``python db_setup.py`` is required and `start()` refuses to run without it.
    """

    def __init__(
        self,
        engine_or_url: Engine | str | None = None,
        *,
        batch_size: int = 500,
        flush_interval_s: float = 0.05,
        retry_backoff_max_s: float = 5.0,
        auto_migrate: bool | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if flush_interval_s < 0 or retry_backoff_max_s <= 0:
            raise ValueError("flush_interval_s must be >= 0 and retry_backoff_max_s > 0")
        self._owns_engine = not isinstance(engine_or_url, Engine)
        self._engine = (
            engine_or_url if isinstance(engine_or_url, Engine) else make_engine(engine_or_url)
        )
        self._batch_size = batch_size
        self._flush_interval_s = flush_interval_s
        self._retry_backoff_max_s = retry_backoff_max_s
        self._auto_migrate = auto_migrate
        # An RLock, so that a signal handler flushing in the main thread cannot deadlock with
        # the listener it interrupted there.
        self._cond = threading.Condition(threading.RLock())
        self._start_lock = threading.Lock()
        self._pending: deque[Record] = deque()
        self._enqueued = self._stored = self._dropped = self._retries = 0
        self._flush_target = 0
        self._last_error: str | None = None
        self._state = "new"
        self._stop = self._abandon = False
        self._thread: threading.Thread | None = None
        self._subscription: Subscription | None = None
        self._closed_ok = True
        self._writer = BatchWriter(self._engine)

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def running(self) -> bool:
        return self._state == "running"

    def start(self) -> Recorder:
        """Check (or create) the schema, start the writer, subscribe to every topic.

        Raises `SchemaNotReadyError` (naming ``python db_setup.py``) when the schema is
        missing or behind and is not migrated automatically, `DatabaseUnavailableError` when
        the database cannot be reached to check it. Calling it again is a no-op.
        """
        with self._start_lock:
            with self._cond:
                if self._state == "running":
                    return self
                if self._state != "new":
                    raise PersistenceError("this recorder was closed; make a new one")
            auto = self._auto_migrate
            revision = ensure_schema(
                self._engine, upgrade=is_sqlite(self._engine) if auto is None else auto
            )
            with self._cond:
                self._state = "running"
                self._thread = threading.Thread(
                    target=self._run, name="persistence-recorder", daemon=True
                )
                self._thread.start()
            self._subscription = subscribe(self._on_event)
        atexit.register(self._close_at_exit)
        _logger.info("recording events to %s (schema %s)", display_url(self._engine), revision)
        return self

    def close(self, timeout_s: float = 10.0) -> bool:
        """Stop listening, store what is queued (waiting up to `timeout_s`), stop the writer.

        Returns True when every record was stored (or refused for good and logged). Records
        still unstored after `timeout_s` (the database is away) are given up, with an error
        logged. Idempotent: later calls return the first call's result at once.
        """
        with self._cond:
            if self._state in ("closing", "closed"):
                return self._closed_ok
            started = self._state == "running"
            self._state = "closing"
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.close()
        ok = self.flush(timeout_s) if started else True
        with self._cond:
            self._stop = True
            self._abandon = not ok
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=5.0)
        atexit.unregister(self._close_at_exit)
        if self._owns_engine:
            self._engine.dispose()
        with self._cond:
            self._state = "closed"
            self._closed_ok = ok
            lost = len(self._pending)
        if not ok:
            _logger.error("recorder closed with %d records not stored: %s", lost, self._last_error)
        return ok

    def _close_at_exit(self) -> None:
        self.close(timeout_s=10.0)

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the publisher's side: enqueue only ---------------------------------------------

    def _on_event(self, event: MediatorEvent) -> None:
        if self._state not in ("running", "closing"):
            return
        if isinstance(event, ConversationBound) and event.conversation_id:
            # Which assistant and backend the conversation uses: a fact for its row.
            self._enqueue(
                ConversationNote(
                    event.conversation_id,
                    event.assistant_id or None,
                    event.backend or None,
                    at=event.at,
                )
            )
        # An event published outside an exchange (opening a conversation) is its own.
        exchange_id = event.exchange_id or uuid.uuid4().hex
        self._enqueue(
            to_record(event, event_uuid=uuid.uuid4().hex, exchange_id=exchange_id, seq=event.seq)
        )

    def _enqueue(self, record: Record) -> None:
        with self._cond:
            self._pending.append(record)
            self._enqueued += 1
            self._cond.notify_all()

    def save_assistant(self, assistant: AssistantRecord) -> None:
        """Store (or update) a local assistant definition."""
        self._enqueue(assistant)

    # -- waiting for the writer ---------------------------------------------------------

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every record enqueued before this call is stored; False on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            target = self._enqueued
            self._flush_target = max(self._flush_target, target)
            self._cond.notify_all()
            while self._stored + self._dropped < target:
                remaining = deadline - time.monotonic()
                thread = self._thread
                if remaining <= 0 or thread is None or not thread.is_alive():
                    return False
                self._cond.wait(remaining)
            return True

    @property
    def stats(self) -> RecorderStats:
        with self._cond:
            return RecorderStats(
                enqueued=self._enqueued,
                stored=self._stored,
                dropped=self._dropped,
                pending=self._enqueued - self._stored - self._dropped,
                retries=self._retries,
                last_error=self._last_error,
            )

    # -- the writer thread --------------------------------------------------------------

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            self._store(batch)

    def _next_batch(self) -> list[Record] | None:
        with self._cond:
            while not self._pending:
                if self._stop or self._abandon:
                    return None
                self._cond.wait()
            if self._abandon:
                return None
            deadline = time.monotonic() + self._flush_interval_s
            while (
                len(self._pending) < self._batch_size
                and not self._stop
                and self._flush_target <= self._stored + self._dropped
            ):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            count = min(self._batch_size, len(self._pending))
            return [self._pending.popleft() for _ in range(count)]

    def _store(self, batch: list[Record]) -> None:
        """Write `batch`, retrying outages; split it to isolate records refused for good."""
        parts = [batch]
        attempt = 0
        while parts:
            part = parts[0]
            try:
                self._writer.write(part)
            except Exception as exc:
                if _is_transient(exc):
                    attempt += 1
                    if not self._back_off(attempt, exc, len(part)):
                        return
                    continue
                if len(part) > 1:
                    parts[0:1] = [[record] for record in part]
                    continue
                self._drop(part[0], exc)
            else:
                if attempt:
                    _logger.info("database reachable again after %d retries", attempt)
                    attempt = 0
                with self._cond:
                    self._stored += len(part)
                    self._cond.notify_all()
            parts.pop(0)

    def _back_off(self, attempt: int, exc: BaseException, size: int) -> bool:
        """Wait before the next attempt; False when `close` gave up on the database."""
        reason = _describe(exc)
        delay = min(self._retry_backoff_max_s, _FIRST_BACKOFF_S * 2 ** min(attempt, 30))
        log = _logger.warning if attempt == 1 or attempt % 20 == 0 else _logger.debug
        log(
            "cannot store %d records (attempt %d, %s); retrying in %.2f s",
            size,
            attempt,
            reason,
            delay,
        )
        with self._cond:
            self._retries += 1
            self._last_error = reason
            deadline = time.monotonic() + delay
            while not self._abandon and (remaining := deadline - time.monotonic()) > 0:
                self._cond.wait(remaining)
            return not self._abandon

    def _drop(self, record: Record, exc: BaseException) -> None:
        where = (
            f"{record.type} seq {record.seq} of exchange {record.exchange_id}"
            if not isinstance(record, ConversationNote | AssistantRecord)
            else type(record).__name__
        )
        _logger.error("the database refused %s for good (%s); dropped", where, _describe(exc))
        with self._cond:
            self._dropped += 1
            self._last_error = _describe(exc)
            self._cond.notify_all()
