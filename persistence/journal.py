"""The exchange journal in the toolkit's database (`mediator.journal.Journal`).

Every fact is appended rows, committed before the call that wrote it returns: that commit is
what makes "written before the next side effect" true. The commits are grouped
(`persistence.journal_writer`): one writer thread per journal takes every fact waiting, from
any conversation, and commits them in one transaction before any of their callers goes on.
`submit` queues a fact and hands back its future, so the event loop awaits the commit without
a thread hop per fact; the `Journal` methods wait for it in the calling thread.

Durable means: on PostgreSQL, committed; on sqlite (WAL, ``synchronous = NORMAL``, as the
engine sets up every connection), committed to the WAL file, which survives the process being
killed (SIGKILL, a crash): what exactly-once across a restart needs. A power cut or an
operating-system crash may lose the last commits of a sqlite file (those not yet
checkpointed), as it may the recorder's; use PostgreSQL where that matters.

Each exchange is read back by folding its rows in order. An exchange begun by this journal and
not yet ended is read back from the rows this journal committed for it (`_live`), without a
query: every fact of it was written here, since no other process takes over an exchange
while this one runs it. A process resumes an exchange only after reading it with
`last_exchange` or `unfinished` (`conversation.resume_conversation`), and those reads drop
what they return from `_live`: from then on its facts are read from the database, where another
process may have added to them. The event recorder stays batched for
everything else; the journal writes little (a few rows an exchange) and must not wait behind a
recorder batch, so it has its own transactions. A process or machine sharing the database
(PostgreSQL) sees the same journal.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, ClassVar

from sqlalchemy import Engine, Table, select

from mediator.approvals import ApprovalDecision, ApprovalRequest
from mediator.journal import JournalApproval, JournalCall, JournalExchange
from persistence.driver_sql import compile_for_driver, driver_transaction
from persistence.engine import is_sqlite
from persistence.journal_writer import JournalWriter
from persistence.models import JournalEntry
from persistence.records import clean_text
from persistence.schema import ensure_schema
from tools.types import ToolCall, ToolResult

__all__ = ["DatabaseJournal"]

_REMEMBERED = 10_000
_TABLE: Table = JournalEntry.__table__  # type: ignore[assignment]
_COLUMNS = tuple(column.name for column in _TABLE.columns if not column.primary_key)
# Every row carries every column, so a batch mixing kinds is one executemany.
_EMPTY_ROW: dict[str, Any] = {
    "call_id": None,
    "name": None,
    "text": None,
    "detail": None,
    "is_error": None,
}

Rows = list[dict[str, Any]]


class DatabaseJournal:
    """`Journal` over an engine (the process's shared one, usually)."""

    #: Its writes wait on a database: never call them on the event loop (`submit` instead).
    blocks: ClassVar[bool] = True

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._ready = False
        self._ready_lock = threading.Lock()
        self._sqlite = is_sqlite(engine)
        # Straight through the driver (as the recorder's writer): a commit costs its
        # statement and little more, in a thread competing with the conversations.
        self._insert = compile_for_driver(_TABLE.insert(), engine.dialect, _COLUMNS)
        self._writer = JournalWriter(self._commit)
        # exchange id -> conversation id, for the rows written after the first (bounded).
        self._conversations: dict[str, str] = {}
        # exchange id -> its committed rows, for the exchanges begun here and not yet ended.
        self._live: dict[str, list[SimpleNamespace]] = {}
        self._conversations_lock = threading.Lock()
        self._rows: dict[str, Callable[..., Rows]] = {
            "exchange_started": self._exchange_started,
            "approvals_requested": self._approvals_requested,
            "approvals_decided": self._approvals_decided,
            "calls_started": self._calls_started,
            "calls_finished": self._calls_finished,
            "exchange_ended": self._exchange_ended,
        }

    @property
    def commits(self) -> int:
        """Transactions the journal's writer has committed (several facts may share one)."""
        return self._writer.commits

    def _ensure(self) -> None:
        if self._ready:
            return
        with self._ready_lock:
            if not self._ready:
                # A sqlite file is set up on first use (the offline quick start); a server
                # database must have been set up by db_setup.py (`SchemaNotReadyError`
                # otherwise).
                ensure_schema(self._engine, upgrade=self._sqlite)
                self._ready = True

    # -- writing ---------------------------------------------------------------------------

    def submit(self, call: Callable[..., object], *args: Any) -> Future[Any] | None:
        """`call(*args)` (one of this journal's methods) without blocking: a write is queued,
        its future resolves once it is committed; a read of a live exchange is answered at
        once. None when neither (a read of the database: the caller calls it as usual)."""
        if getattr(call, "__self__", None) is not self:
            return None
        name = getattr(call, "__name__", "")
        rows = self._rows.get(name)
        if rows is not None:
            made = rows(*args)
            return self._writer.submit(made) if made else _done(None)
        if name == "exchange":
            with self._conversations_lock:
                live = self._live.get(args[0])
                if live is not None:
                    return _done(_fold(live))
        return None

    def _write(self, rows: Rows) -> None:
        if rows:
            self._writer.write(rows)

    def _commit(self, rows: Rows) -> None:
        """One batch, one transaction (in the writer thread)."""
        self._ensure()
        for row in rows:
            if row["conversation_id"] is None:  # begun by another process (a resumed exchange)
                row["conversation_id"] = self._conversation_of(row["exchange_id"])
        with driver_transaction(self._engine, "the journal's facts") as cursor:
            self._insert.run_dicts(cursor, rows)
        self._keep_live(rows)

    def _keep_live(self, rows: Rows) -> None:
        """Note committed `rows` for reading back the exchanges begun here."""
        with self._conversations_lock:
            for row in rows:
                exchange_id, kind = row["exchange_id"], row["kind"]
                if kind == "exchange":
                    if len(self._live) >= _REMEMBERED:
                        self._live.pop(next(iter(self._live)))
                    self._live[exchange_id] = [SimpleNamespace(**row)]
                elif kind == "ended":
                    self._live.pop(exchange_id, None)
                elif (live := self._live.get(exchange_id)) is not None:
                    live.append(SimpleNamespace(**row))

    def _forget_live(self, conversation_id: str) -> None:
        """Read the conversation's exchanges from the database from now on: it is being
        resumed, maybe after another process took it over."""
        with self._conversations_lock:
            for exchange_id, rows in list(self._live.items()):
                if rows[0].conversation_id == conversation_id:
                    del self._live[exchange_id]

    def _row(self, exchange_id: str, kind: str, **fields: Any) -> dict[str, Any]:
        """One journal row of exchange `exchange_id`: its conversation filled in when known
        here (else by the writer), every column present."""
        with self._conversations_lock:
            conversation_id = self._conversations.get(exchange_id)
        return {
            **_EMPTY_ROW,
            "at": datetime.now(UTC),
            "exchange_id": exchange_id,
            "conversation_id": conversation_id,
            "kind": kind,
            **fields,
        }

    def exchange_started(
        self, conversation_id: str, exchange_id: str, assistant_id: str, text: str
    ) -> None:
        self._write(self._exchange_started(conversation_id, exchange_id, assistant_id, text))

    def _exchange_started(
        self, conversation_id: str, exchange_id: str, assistant_id: str, text: str
    ) -> Rows:
        self._remember(exchange_id, conversation_id)
        return [
            self._row(exchange_id, "exchange", text=clean_text(text), detail=assistant_id[:128])
        ]

    def approvals_requested(self, exchange_id: str, requests: Sequence[ApprovalRequest]) -> None:
        self._write(self._approvals_requested(exchange_id, requests))

    def _approvals_requested(self, exchange_id: str, requests: Sequence[ApprovalRequest]) -> Rows:
        return [
            self._row(
                exchange_id,
                "approval_asked",
                call_id=request.call.id,
                name=request.call.name[:256],
                text=clean_text(request.call.arguments),
                detail=clean_text(request.why)[:128],
            )
            for request in requests
        ]

    def approvals_decided(self, exchange_id: str, decisions: Sequence[ApprovalDecision]) -> None:
        self._write(self._approvals_decided(exchange_id, decisions))

    def _approvals_decided(self, exchange_id: str, decisions: Sequence[ApprovalDecision]) -> Rows:
        # `is_error` marks a rejection; `name` says who answered, `text` why.
        return [
            self._row(
                exchange_id,
                "approval_answer",
                call_id=decision.call_id,
                name=clean_text(decision.who)[:256],
                is_error=not decision.approved,
                text=clean_text(decision.reason) if decision.reason is not None else None,
            )
            for decision in decisions
        ]

    def calls_started(self, exchange_id: str, calls: Sequence[ToolCall]) -> None:
        self._write(self._calls_started(exchange_id, calls))

    def _calls_started(self, exchange_id: str, calls: Sequence[ToolCall]) -> Rows:
        return [
            self._row(
                exchange_id,
                "call_started",
                call_id=call.id,
                name=call.name[:256],
                text=clean_text(call.arguments),
            )
            for call in calls
        ]

    def calls_finished(self, exchange_id: str, results: Sequence[ToolResult]) -> None:
        self._write(self._calls_finished(exchange_id, results))

    def _calls_finished(self, exchange_id: str, results: Sequence[ToolResult]) -> Rows:
        return [
            self._row(
                exchange_id,
                "call_finished",
                call_id=result.call_id,
                name=result.name[:256],
                text=clean_text(result.output),
                is_error=result.is_error,
                detail=(result.error_type or "")[:128] or None,
            )
            for result in results
        ]

    def exchange_ended(self, exchange_id: str, outcome: str, reply: str | None) -> None:
        self._write(self._exchange_ended(exchange_id, outcome, reply))

    def _exchange_ended(self, exchange_id: str, outcome: str, reply: str | None) -> Rows:
        text = clean_text(reply) if reply is not None else None
        return [self._row(exchange_id, "ended", detail=outcome, text=text)]

    def _remember(self, exchange_id: str, conversation_id: str) -> None:
        with self._conversations_lock:
            if len(self._conversations) >= _REMEMBERED:
                self._conversations.pop(next(iter(self._conversations)))
            self._conversations[exchange_id] = conversation_id

    def _conversation_of(self, exchange_id: str) -> str:
        with self._conversations_lock:
            found = self._conversations.get(exchange_id)
        if found is None:  # begun by another process (a resumed exchange)
            known = self.exchange(exchange_id)
            found = known.conversation_id if known is not None else ""
            self._remember(exchange_id, found)
        return found

    # -- reading ---------------------------------------------------------------------------

    def exchange(self, exchange_id: str) -> JournalExchange | None:
        with self._conversations_lock:
            live = self._live.get(exchange_id)
            if live is not None:
                return _fold(live)
        self._ensure()
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(JournalEntry.__table__)
                .where(JournalEntry.exchange_id == exchange_id)
                .order_by(JournalEntry.id)
            ).all()
        return _fold(rows)

    def last_exchange(self, conversation_id: str) -> JournalExchange | None:
        self._forget_live(conversation_id)  # read to be resumed, maybe
        self._ensure()
        with self._engine.connect() as connection:
            exchange_id = connection.execute(
                select(JournalEntry.exchange_id)
                .where(
                    JournalEntry.conversation_id == conversation_id,
                    JournalEntry.kind == "exchange",
                )
                .order_by(JournalEntry.id.desc())
                .limit(1)
            ).scalar()
        return self.exchange(exchange_id) if exchange_id is not None else None

    def exchanges_of(self, conversation_id: str) -> list[JournalExchange]:
        """Every exchange of the conversation, oldest first, in one query."""
        self._ensure()
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(JournalEntry.__table__)
                .where(JournalEntry.conversation_id == conversation_id)
                .order_by(JournalEntry.id)
            ).all()
        by_exchange: dict[str, list[Any]] = {}
        for row in rows:
            by_exchange.setdefault(row.exchange_id, []).append(row)
        found = (_fold(exchange_rows) for exchange_rows in by_exchange.values())
        return [exchange for exchange in found if exchange is not None]

    def unfinished(self, limit: int = 50) -> list[JournalExchange]:
        """The latest exchange of each recent conversation, where it never ended."""
        self._ensure()
        with self._engine.connect() as connection:
            recent = connection.execute(
                select(JournalEntry.conversation_id)
                .where(JournalEntry.kind == "exchange")
                .order_by(JournalEntry.id.desc())
                .limit(limit * 20)
            ).scalars()
            conversations = list(dict.fromkeys(recent))[:limit]
        found = [self.last_exchange(c) for c in conversations]  # forgets them as live
        return [e for e in found if e is not None and e.ended is None]


def _done(value: Any) -> Future[Any]:
    done: Future[Any] = Future()
    done.set_result(value)
    return done


def _fold(rows: Sequence[Any]) -> JournalExchange | None:
    exchange: JournalExchange | None = None
    calls: dict[str, JournalCall] = {}
    approvals: dict[str, JournalApproval] = {}
    for row in rows:
        if row.kind.startswith("approval_"):
            _fold_approval(approvals, row)
            continue
        if row.kind == "exchange" and exchange is None:
            exchange = JournalExchange(
                row.exchange_id, row.conversation_id, row.detail or "", row.text or ""
            )
        elif row.kind == "call_started" and row.call_id not in calls:
            calls[row.call_id] = JournalCall(row.call_id, row.name or "", row.text or "")
        elif row.kind == "call_finished" and row.call_id in calls:
            calls[row.call_id] = replace(
                calls[row.call_id],
                output=row.text or "",
                is_error=bool(row.is_error),
                error_type=row.detail,
            )
        elif row.kind == "ended" and exchange is not None:
            exchange = replace(exchange, ended=row.detail, reply=row.text)
    if exchange is None:
        return None
    return replace(exchange, calls=tuple(calls.values()), approvals=tuple(approvals.values()))


def _fold_approval(approvals: dict[str, JournalApproval], row: Any) -> None:
    if row.kind == "approval_asked" and row.call_id not in approvals:
        approvals[row.call_id] = JournalApproval(
            row.call_id, row.name or "", row.text or "", row.detail or ""
        )
    elif row.kind == "approval_answer" and row.call_id in approvals:
        approvals[row.call_id] = replace(
            approvals[row.call_id], approved=not row.is_error, who=row.name, reason=row.text
        )
