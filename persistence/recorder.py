"""The recorder: every published event, stored in batches by one writer thread.

`Recorder.start()` subscribes to every topic. The listener runs in the publisher's thread
(usually the event loop) and does the least it can: it appends the event to an inbox (a deque,
no lock) and wakes the writer if it was idle. The writer thread turns events into plain records
(`persistence.records`), numbers them, and writes each batch in one transaction
(`persistence.writer`). A conversation's cost per event is an append. Streamed pieces of a
reply (``MessageDelta``) that wait together are stored as one row, their text joined.

A slow, locked or unreachable database never stalls a conversation: records wait and the
batch is retried with exponential backoff (up to `retry_backoff_max_s`) until it succeeds.
Memory stays bounded: while the database is failing and more than `max_pending` records wait,
they go to a local append-only spill file (`persistence.spill`) and are stored from it, in
order, once the database is back. A database unreachable at `start()` is waited for the same
way: conversations started during the outage are recorded when it ends. Nothing is lost and
nothing duplicated: a batch is one transaction, and writing it again inserts nothing twice
(every event has an ``event_uuid``). A batch the database refuses for good (a data error, not
an outage) is written record by record and only the refused records are dropped, each logged
with its type and position, never its content.

Numbering: every event arrives with the id of its exchange and ``seq``, its position in the
exchange, both given by the mediator that published it; the recorder adds a random
``event_uuid`` (the key that makes writing a batch twice harmless). Events of one run
therefore keep their order; see `persistence.batch_plan` for how the events before the run
(and before the conversation id) are attached once the ids appear. Which assistant and
backend a conversation uses comes from its `ConversationBound` event: the recorder learns
everything from events.

Shutdown: `close()` stores everything queued for as long as the database keeps taking it (no
cap on a large backlog); when it stops making progress for `stall_s` (the database is away),
what is left goes to a spill file, and the log says how many records and where. The next
recorder started on the same database adopts such files and stores them. An ``atexit`` hook
closes at interpreter exit; `persistence.process.install_signal_handlers` does the same on
SIGTERM.
"""

from __future__ import annotations

import atexit
import logging
import os
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import Final

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from mediator.bus import Subscription, subscribe
from mediator.events import ConversationBound, MediatorEvent
from persistence.engine import display_url, is_sqlite, make_engine
from persistence.errors import DatabaseUnavailableError, PersistenceError
from persistence.records import (
    AssistantRecord,
    ConversationNote,
    EventRecord,
    Record,
    to_record,
)
from persistence.schema import ensure_schema
from persistence.spill import SpillFile, orphaned_spills, spill_folder
from persistence.writer import BatchWriter

__all__ = ["Recorder", "RecorderStats"]

_logger = logging.getLogger(__name__)

_FIRST_BACKOFF_S: Final = 0.05
_IDLE_WAKE_S: Final = 1.0
DEFAULT_MAX_PENDING: Final = 20_000
DEFAULT_STALL_S: Final = 5.0


@dataclass(frozen=True, slots=True)
class RecorderStats:
    """Counters since `start()`; ``enqueued == stored + dropped + pending`` once idle.

    `spilled` of the `pending` records wait in spill files rather than in memory.
    """

    enqueued: int
    stored: int
    dropped: int
    pending: int
    retries: int
    last_error: str | None
    spilled: int = 0


class _EventKeys:
    """``event_uuid`` values: 32 hex digits, the time in milliseconds then 80 random bits.

    Time first, so that keys made later sort later: every insert into the key's unique index
    lands at its end, on the same few pages, instead of a random page of an index as large as
    the table (random keys made storing an event slower the more were stored, and each commit
    write a page per event). 80 random bits keep keys made in the same millisecond, by any
    number of processes, distinct.

    Random bytes are drawn from the system 1,024 keys at a time: `os.urandom` lets go of the
    interpreter lock, and taking it back from a busy publisher can wait a whole switch
    interval."""

    _BATCH: Final = 1024
    _RANDOM_HEX: Final = 20

    def __init__(self) -> None:
        self._hex = ""
        self._next = 0

    def __call__(self) -> str:
        start = self._next
        if start >= len(self._hex):
            self._hex, start = os.urandom(self._RANDOM_HEX // 2 * self._BATCH).hex(), 0
        self._next = start + self._RANDOM_HEX
        return f"{time.time_ns() // 1_000_000:012x}{self._hex[start : self._next]}"


def _merge_delta(waiting: deque[Record | _FlushMark] | list[Record], record: Record) -> bool:
    """Add a streamed piece of the reply to the piece just before it, if that one is of the
    same exchange and still waiting: True if merged.

    A model streams its reply a token at a time, and a row per token would make recording
    cost grow with the reply's length (the whole reply is stored once more with
    ``MessageRetrieved``). So consecutive ``MessageDelta`` events of an exchange that wait
    together are stored as one row: its text is theirs joined, its time and position the
    first's."""
    if not isinstance(record, EventRecord) or record.type != "MessageDelta":
        return False
    last = waiting[-1]
    if (
        not isinstance(last, EventRecord)
        or last.type != "MessageDelta"
        or last.exchange_id != record.exchange_id
        or last.session_id != record.session_id
    ):
        return False
    waiting[-1] = replace(last, output=(last.output or "") + (record.output or ""))
    return True


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


def default_spill_dir(engine: Engine) -> Path:
    """Beside a sqlite file (``<file>.spill/``); else ``dbstorage/spill`` in the working dir."""
    database = engine.url.database or ""
    if is_sqlite(engine) and database not in ("", ":memory:") and not database.startswith("file:"):
        return Path(database + ".spill")
    if is_sqlite(engine):  # an in-memory database: it cannot be away, this is never written
        return Path(tempfile.gettempdir()) / "assistant-mediator-spill"
    return Path("dbstorage") / "spill"


class _FlushMark:
    """Put in the inbox by `flush`; set once every record before it is stored."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


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
        max_pending: most records kept in memory while the database is failing; beyond it
            they go to a spill file.
        spill_dir: where spill files go (see `default_spill_dir`); one folder per database.
    """

    def __init__(
        self,
        engine_or_url: Engine | str | None = None,
        *,
        batch_size: int = 500,
        flush_interval_s: float = 0.05,
        retry_backoff_max_s: float = 5.0,
        auto_migrate: bool | None = None,
        max_pending: int = DEFAULT_MAX_PENDING,
        spill_dir: str | Path | None = None,
    ) -> None:
        if batch_size < 1 or max_pending < 1:
            raise ValueError(f"batch_size and max_pending must be at least 1, got {batch_size}")
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
        self._max_pending = max_pending
        base = Path(spill_dir) if spill_dir is not None else default_spill_dir(self._engine)
        self._spill_folder = spill_folder(base, display_url(self._engine))
        # The publishers' side: an append and, when the writer may be asleep, a wake-up.
        self._inbox: deque[MediatorEvent | Record | _FlushMark] = deque()
        self._wake = threading.Event()
        self._accepting = False
        # The writer's side (only the writer thread touches these, except to read counters).
        self._backlog: deque[Record | _FlushMark] = deque()
        self._spills: deque[SpillFile] = deque()  # oldest first; the last may be `_spilling`
        self._spilling: SpillFile | None = None  # while set, new records go to this file
        self._spill_marks: list[tuple[SpillFile, int, _FlushMark]] = []
        self._schema_ready = False
        # No record waiting was ever sent to the database: a batch of them is new (see
        # `BatchWriter.write`). False from a failed attempt until the backlog is all stored.
        self._unattempted = True
        self._taken = self._stored = self._dropped = self._retries = 0
        self._marks_asked = self._marks_seen = 0
        self._last_error: str | None = None
        # Lifecycle. Reentrant: a signal handler that flushes may interrupt a holder of it.
        self._lock = threading.RLock()
        self._start_lock = threading.Lock()
        self._state = "new"
        self._stop = threading.Event()  # finish what is queued, then end
        self._give_up = threading.Event()  # spill what is left, then end
        self._ended = threading.Event()  # the writer has ended
        self._thread: threading.Thread | None = None
        self._subscription: Subscription | None = None
        self._closed_ok = True
        self._writer = BatchWriter(self._engine)
        self._event_key = _EventKeys()  # the writer thread's only

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def running(self) -> bool:
        return self._state == "running"

    @property
    def spill_folder(self) -> Path:
        """Where this recorder's spill files go (and where it adopts orphaned ones from)."""
        return self._spill_folder

    def start(self) -> Recorder:
        """Check (or create) the schema, adopt orphaned spill files, start the writer, subscribe.

        Raises `SchemaNotReadyError` (naming ``python db_setup.py``) when the schema is
        missing or behind and is not migrated automatically. A database that cannot be reached
        is not an error: events are kept (in memory, then in a spill file) and stored once it
        is back; the log says so. Calling it again is a no-op.
        """
        with self._start_lock:
            with self._lock:
                if self._state == "running":
                    return self
                if self._state != "new":
                    raise PersistenceError("this recorder was closed; make a new one")
            revision: str | None
            try:
                revision = self._ensure_schema()
            except DatabaseUnavailableError as exc:
                revision = None
                self._last_error = exc.reason
                _logger.warning(
                    "cannot reach %s (%s): events are kept and stored once it is back",
                    display_url(self._engine),
                    exc.reason,
                )
            self._spills.extend(orphaned_spills(self._spill_folder))
            if self._spills:
                _logger.warning(
                    "storing %d records left in spill files by processes that ended",
                    sum(spill.unread for spill in self._spills),
                )
            with self._lock:
                self._state = "running"
                self._accepting = True
                self._thread = threading.Thread(
                    target=self._run, name="persistence-recorder", daemon=True
                )
                self._thread.start()
            self._subscription = subscribe(self._on_event)
        atexit.register(self._close_at_exit)
        _logger.info("recording events to %s (schema %s)", display_url(self._engine), revision)
        return self

    def _ensure_schema(self) -> str:
        auto = self._auto_migrate
        revision = ensure_schema(
            self._engine, upgrade=is_sqlite(self._engine) if auto is None else auto
        )
        self._schema_ready = True
        return revision

    def close(self, timeout_s: float | None = None, *, stall_s: float = DEFAULT_STALL_S) -> bool:
        """Stop listening, store what is queued, stop the writer.

        Waits as long as the database keeps storing records (however many are queued), at
        most `timeout_s` in all if given. When it stops making progress for `stall_s` (it is
        away) or the time is up, the records left go to a spill file, and an error is logged
        with how many and where: the next recorder on this database stores them.

        Returns True when every record was stored (or refused for good and logged).
        Idempotent: later calls return the first call's result at once.
        """
        with self._lock:
            if self._state in ("closing", "closed"):
                return self._closed_ok
            started = self._state == "running"
            self._state = "closing"
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.close()
        self._accepting = False
        ok = self.drain(timeout_s, stall_s=stall_s) if started else True
        (self._stop if ok else self._give_up).set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=30.0)  # spilling what is left is local file writes
        atexit.unregister(self._close_at_exit)
        if self._owns_engine:
            self._engine.dispose()
        with self._lock:
            self._state = "closed"
            self._closed_ok = ok
        return ok

    def _close_at_exit(self) -> None:
        self.close()

    def __enter__(self) -> Recorder:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the publisher's side: an append ------------------------------------------------

    def _on_event(self, event: MediatorEvent) -> None:
        if self._accepting:
            self._inbox.append(event)
            if not self._wake.is_set():
                self._wake.set()

    def save_assistant(self, assistant: AssistantRecord) -> None:
        """Store (or update) a local assistant definition."""
        self._inbox.append(assistant)
        self._wake.set()

    # -- waiting for the writer ---------------------------------------------------------

    def _post_mark(self) -> _FlushMark:
        """A mark behind everything enqueued so far, the writer woken to reach it."""
        mark = _FlushMark()
        with self._lock:
            self._marks_asked += 1
        self._inbox.append(mark)
        self._wake.set()
        return mark

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every record enqueued before this call is stored; False on timeout."""
        mark = self._post_mark()
        thread = self._thread
        if thread is None or not thread.is_alive():
            return False
        return mark.done.wait(timeout_s)

    def drain(self, timeout_s: float | None = None, *, stall_s: float = DEFAULT_STALL_S) -> bool:
        """Wait until everything queued now is stored, for as long as the writer progresses.

        False when no record was stored for `stall_s` (the database is away) or `timeout_s`
        passed in all: what is left stays queued (`close` then spills it).
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        mark = self._post_mark()
        last, last_change = self._stored + self._dropped, time.monotonic()
        while not mark.done.wait(min(0.1, stall_s)):
            thread = self._thread
            now = time.monotonic()
            if thread is None or not thread.is_alive():
                return False
            if deadline is not None and now >= deadline:
                return False
            done = self._stored + self._dropped
            if done != last:
                last, last_change = done, now
            elif now - last_change >= stall_s:
                return False
        return True

    @property
    def stats(self) -> RecorderStats:
        with self._lock:
            unseen_marks = self._marks_asked - self._marks_seen
        queued = len(self._inbox) - unseen_marks
        enqueued = self._taken + max(0, queued)
        return RecorderStats(
            enqueued=enqueued,
            stored=self._stored,
            dropped=self._dropped,
            pending=max(0, enqueued - self._stored - self._dropped),
            retries=self._retries,
            last_error=self._last_error,
            spilled=sum(spill.unread for spill in list(self._spills)),
        )

    # -- the writer thread --------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        try:
            while True:
                self._wait_for_work(failures)
                self._take_inbox()
                if self._give_up.is_set():
                    self._spill_everything()
                    return
                if not self._backlog and not self._spills:
                    if self._stop.is_set() and not self._inbox:
                        return
                    continue
                progressed = self._write_next()
                failures = 0 if progressed else failures + 1
                if failures and len(self._backlog) > self._max_pending:
                    self._start_spilling()
        except BaseException:  # never silently: the recorder is stuck without its writer
            _logger.exception("the recorder's writer stopped")
            raise
        finally:
            self._ended.set()

    def _wait_for_work(self, failures: int) -> None:
        """Sleep until there is something to do: a wake-up, a full batch, or a retry due."""
        if failures:
            delay = min(self._retry_backoff_max_s, _FIRST_BACKOFF_S * 2 ** min(failures, 30))
            self._give_up.wait(delay)
            return
        if self._backlog or self._spills:
            if (
                len(self._backlog) + len(self._inbox) < self._batch_size
                and not self._flush_asked()
                and not self._stop.is_set()
                and not self._spills
            ):
                self._give_up.wait(self._flush_interval_s)  # let a batch fill
            return
        self._wake.wait(_IDLE_WAKE_S)
        self._wake.clear()
        if self._inbox and not self._flush_asked() and not self._stop.is_set():
            self._give_up.wait(self._flush_interval_s)

    def _flush_asked(self) -> bool:
        return self._marks_asked != self._marks_seen

    def _take_inbox(self) -> None:
        """Move what publishers queued to the backlog (or the spill file), as records."""
        spilled: list[Record] = []
        while True:
            try:
                item = self._inbox.popleft()
            except IndexError:
                break
            if isinstance(item, _FlushMark):
                with self._lock:
                    self._marks_seen += 1
                if self._spilling is not None:
                    self._spill_then_mark(spilled, item)
                    spilled = []
                elif not self._backlog and not self._spills:
                    item.done.set()
                else:
                    self._backlog.append(item)
                continue
            records = self._records_of(item)
            waiting = spilled if self._spilling is not None else self._backlog
            if len(records) == 1 and waiting and _merge_delta(waiting, records[0]):
                continue
            self._taken += len(records)
            waiting.extend(records)
        self._spill(spilled)

    def _records_of(self, item: MediatorEvent | Record) -> list[Record]:
        if not isinstance(item, MediatorEvent):
            return [item]
        records: list[Record] = []
        if isinstance(item, ConversationBound) and item.conversation_id:
            # Which assistant and backend the conversation uses: a fact for its row.
            records.append(
                ConversationNote(
                    item.conversation_id,
                    item.assistant_id or None,
                    item.backend or None,
                    at=item.at,
                )
            )
        # An event published outside an exchange (opening a conversation) is its own.
        exchange_id = item.exchange_id or uuid.uuid4().hex
        records.append(
            to_record(item, event_uuid=self._event_key(), exchange_id=exchange_id, seq=item.seq)
        )
        return records

    def _write_next(self) -> bool:
        """Store the next batch (spill files first: they are older); False if it failed."""
        if not self._schema_ready:
            try:
                self._ensure_schema()
                _logger.info("%s is reachable: recording catches up", display_url(self._engine))
            except DatabaseUnavailableError as exc:
                self._note_failure(exc.reason)
                return False
        if self._spills:
            return self._write_from_spill(self._spills[0])
        return self._write_from_backlog()

    def _write_from_backlog(self) -> bool:
        items: list[Record | _FlushMark] = []
        batch: list[Record] = []
        while self._backlog and len(batch) < self._batch_size:
            item = self._backlog.popleft()
            items.append(item)
            if not isinstance(item, _FlushMark):
                batch.append(item)
        if not self._store(batch, new=self._unattempted):
            self._unattempted = False  # it may have committed, its answer lost
            self._backlog.extendleft(reversed(items))
            return False
        while self._backlog and isinstance(self._backlog[0], _FlushMark):
            items.append(self._backlog.popleft())
        if not self._backlog:  # every record ever attempted is stored
            self._unattempted = True
        for item in items:
            if isinstance(item, _FlushMark):
                item.done.set()
        return True

    def _write_from_spill(self, spill: SpillFile) -> bool:
        frame = spill.peek()
        if frame is not None:
            records, end = frame
            if not self._store(records):
                return False
            spill.consumed(end, len(records))
        if spill.read_offset >= spill.write_offset:  # every record of it is stored
            self._spills.popleft()
            if spill is self._spilling:
                self._spilling = None
                _logger.info("records spilled during the outage are all stored")
            spill.close(delete=True)
        self._release_spill_marks()
        return True

    def _release_spill_marks(self) -> None:
        waiting = []
        for spill, offset, mark in self._spill_marks:
            if spill not in self._spills or spill.read_offset >= offset:
                mark.done.set()
            else:
                waiting.append((spill, offset, mark))
        self._spill_marks = waiting

    def _store(self, batch: Sequence[Record], *, new: bool = False) -> bool:
        """Write `batch`; False on an outage (nothing counted: writing again is harmless).

        A batch the database refuses for good is written record by record, to drop only the
        refused ones. `new`: no record of it was sent before (`BatchWriter.write`).
        """
        try:
            self._writer.write(batch, new=new)
        except Exception as exc:
            if _is_transient(exc):
                self._note_failure(_describe(exc), size=len(batch))
                return False
            if len(batch) == 1:
                self._drop(batch[0], exc)
                return True
            for record in batch:
                if not self._store([record]):
                    return False
            return True
        if self._retries and self._last_error is not None:
            _logger.info("database reachable again")
            self._last_error = None
        with self._lock:
            self._stored += len(batch)
        return True

    def _note_failure(self, reason: str, *, size: int = 0) -> None:
        self._retries += 1
        first = self._last_error is None
        self._last_error = reason
        log = _logger.warning if first or self._retries % 20 == 0 else _logger.debug
        log("cannot store %d records (attempt %d, %s); retrying", size, self._retries, reason)

    # -- spilling -----------------------------------------------------------------------

    def _start_spilling(self) -> None:
        """Move the backlog to a new spill file; new records go there until it is stored."""
        self._spilling = SpillFile.create(self._spill_folder)
        self._spills.append(self._spilling)
        _logger.warning(
            "the database is away and %d records wait: keeping them in %s until it is back",
            len(self._backlog),
            self._spilling.path,
        )
        records: list[Record] = []
        while self._backlog:
            item = self._backlog.popleft()
            if isinstance(item, _FlushMark):
                self._spill_then_mark(records, item)
                records = []
            else:
                records.append(item)
        self._spill(records)

    def _spill_then_mark(self, records: list[Record], mark: _FlushMark) -> None:
        """Spill `records`; `mark` is reached once the file is stored up to their end."""
        self._spill(records)
        assert self._spilling is not None
        self._spill_marks.append((self._spilling, self._spilling.write_offset, mark))

    def _spill(self, records: list[Record]) -> None:
        assert self._spilling is not None or not records
        for start in range(0, len(records), self._batch_size):
            assert self._spilling is not None
            self._spilling.append(records[start : start + self._batch_size])

    def _spill_everything(self) -> None:
        """Closing with the database away: keep what is left in a file for the next recorder."""
        if self._backlog and self._spilling is None:
            self._start_spilling()
        left = sum(spill.unread for spill in self._spills)
        for spill in self._spills:
            spill.sync()
            spill.close(delete=spill.unread == 0)
        if left:
            _logger.error(
                "closing with %d records not stored (%s): kept in %s; the next recorder "
                "started on %s stores them",
                left,
                self._last_error or "the database did not keep up",
                self._spill_folder,
                display_url(self._engine),
            )
        self._spills.clear()

    def _drop(self, record: Record, exc: BaseException) -> None:
        where = (
            f"{record.type} seq {record.seq} of exchange {record.exchange_id}"
            if not isinstance(record, ConversationNote | AssistantRecord)
            else type(record).__name__
        )
        _logger.error("the database refused %s for good (%s); dropped", where, _describe(exc))
        with self._lock:
            self._dropped += 1
        self._last_error = _describe(exc)
