"""The exchange journal in the toolkit's database (`mediator.journal.Journal`).

Every fact is one appended row, committed before the call returns: that commit is what makes
"written before the next side effect" true. Each exchange is read back by folding its rows in
order. The event recorder stays batched for everything else; the journal writes little (a few
rows an exchange) and must not wait behind a batch, so it has its own short transactions.
A process or machine sharing the database (PostgreSQL) sees the same journal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from mediator.approvals import ApprovalDecision, ApprovalRequest
from mediator.journal import JournalApproval, JournalCall, JournalExchange
from persistence.engine import SQLITE_BEGIN_OPTION, is_sqlite
from persistence.models import JournalEntry
from persistence.records import clean_text
from persistence.schema import ensure_schema
from tools.types import ToolCall, ToolResult

__all__ = ["DatabaseJournal"]

_REMEMBERED = 10_000


class DatabaseJournal:
    """`Journal` over an engine (the process's shared one, usually)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._ready = False
        # exchange id -> conversation id, for the rows written after the first (bounded).
        self._conversations: dict[str, str] = {}

    def _ensure(self) -> None:
        if not self._ready:
            # A sqlite file is set up on first use (the offline quick start); a server
            # database must have been set up by db_setup.py (`SchemaNotReadyError` otherwise).
            ensure_schema(self._engine, upgrade=is_sqlite(self._engine))
            self._ready = True

    def _write(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        self._ensure()
        now = datetime.now(UTC)
        options = {SQLITE_BEGIN_OPTION: "IMMEDIATE"} if is_sqlite(self._engine) else {}
        with self._engine.connect().execution_options(**options) as connection:
            with connection.begin():
                connection.execute(insert(JournalEntry), [{"at": now, **row} for row in rows])

    def _row(self, exchange_id: str, kind: str, **fields: Any) -> dict[str, Any]:
        """One journal row of exchange `exchange_id`, its conversation filled in."""
        return {
            "exchange_id": exchange_id,
            "conversation_id": self._conversation_of(exchange_id),
            "kind": kind,
            **fields,
        }

    def exchange_started(
        self, conversation_id: str, exchange_id: str, assistant_id: str, text: str
    ) -> None:
        self._remember(exchange_id, conversation_id)
        self._write(
            [self._row(exchange_id, "exchange", text=clean_text(text), detail=assistant_id[:128])]
        )

    def approvals_requested(self, exchange_id: str, requests: Sequence[ApprovalRequest]) -> None:
        self._write(
            [
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
        )

    def approvals_decided(self, exchange_id: str, decisions: Sequence[ApprovalDecision]) -> None:
        # `is_error` marks a rejection; `name` says who answered, `text` why.
        self._write(
            [
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
        )

    def calls_started(self, exchange_id: str, calls: Sequence[ToolCall]) -> None:
        self._write(
            [
                self._row(
                    exchange_id,
                    "call_started",
                    call_id=call.id,
                    name=call.name[:256],
                    text=clean_text(call.arguments),
                )
                for call in calls
            ]
        )

    def calls_finished(self, exchange_id: str, results: Sequence[ToolResult]) -> None:
        self._write(
            [
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
        )

    def exchange_ended(self, exchange_id: str, outcome: str, reply: str | None) -> None:
        text = clean_text(reply) if reply is not None else None
        self._write([self._row(exchange_id, "ended", detail=outcome, text=text)])

    def _remember(self, exchange_id: str, conversation_id: str) -> None:
        if len(self._conversations) >= _REMEMBERED:
            self._conversations.pop(next(iter(self._conversations)))
        self._conversations[exchange_id] = conversation_id

    def _conversation_of(self, exchange_id: str) -> str:
        found = self._conversations.get(exchange_id)
        if found is None:  # begun by another process (a resumed exchange)
            known = self.exchange(exchange_id)
            found = known.conversation_id if known is not None else ""
            self._remember(exchange_id, found)
        return found

    def exchange(self, exchange_id: str) -> JournalExchange | None:
        self._ensure()
        with self._engine.connect() as connection:
            rows = connection.execute(
                select(JournalEntry.__table__)
                .where(JournalEntry.exchange_id == exchange_id)
                .order_by(JournalEntry.id)
            ).all()
        return _fold(rows)

    def last_exchange(self, conversation_id: str) -> JournalExchange | None:
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
        found = [self.last_exchange(c) for c in conversations]
        return [e for e in found if e is not None and e.ended is None]


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
