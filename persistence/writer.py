"""Writing one batch of records in one transaction, idempotently.

`BatchWriter.write(batch)` plans the batch (`persistence.batch_plan`) and applies the plan in a
single transaction run straight on the driver (``BEGIN IMMEDIATE`` on sqlite, so a locked file
makes it wait its busy timeout, then fail cleanly), as a handful of statements
(`persistence.statements`) compiled once for the driver and given plain tuples
(`persistence.driver_sql`: multi-row ``VALUES`` on sqlite; on PostgreSQL, events and messages
through ``COPY``).

Writing the same batch again changes nothing: events and messages are inserted with ``ON
CONFLICT DO NOTHING`` on their ``event_uuid``, conversations and runs on their ids, tool calls
are upserts on (run, call id), and every update sets values that do not depend on how often
it runs. So a retry after a commit whose acknowledgement was lost
cannot duplicate anything.

Only the recorder's writer thread uses a `BatchWriter`; it is not thread-safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any

from sqlalchemy import Engine

from persistence.batch_plan import BatchPlan, RunStart, WriterMemory, plan_batch
from persistence.driver_sql import CopyInsert, Insert, driver_transaction
from persistence.models import UTCDateTime
from persistence.records import AssistantRecord, EventRecord, Record
from persistence.statements import EVENT_COLUMNS, DriverStatements, driver_statements_for

__all__ = ["BatchWriter"]

_UTC_TIME = UTCDateTime()

_event_row = attrgetter(*EVENT_COLUMNS)
"""An event's ``run_events`` values, in `EVENT_COLUMNS` order."""


def _message_row(event: EventRecord) -> tuple[Any, ...]:
    """`MESSAGE_COLUMNS` of a message event."""
    return (
        event.event_uuid, event.conversation_id, event.run_id, event.session_id,
        event.exchange_id, event.role, event.message_text or "", event.at,
    )  # fmt: skip


def _tool_rows(plan: BatchPlan) -> tuple[list[tuple[Any, ...]], ...]:
    """Tool-call rows (requested, executed, submitted: their ``TOOL_*_COLUMNS``), in batch
    order."""
    requested: list[tuple[Any, ...]] = []
    executed: list[tuple[Any, ...]] = []
    submitted: list[tuple[Any, ...]] = []
    for event in plan.events:
        if not event.calls or event.run_id is None:
            continue
        run, conversation, at = event.run_id, event.conversation_id, event.at
        for call in event.calls:
            row = (run, call.call_id, conversation, call.name, call.arguments or "")
            if event.type == "ActionRequired":
                requested.append((*row, at))
            elif event.type == "ToolExecuted":
                executed.append(
                    (*row, call.output, call.is_error, call.error_type, call.duration_s, at)
                )
            else:
                submitted.append((*row, call.output, at))
    return requested, executed, submitted


class BatchWriter:
    """Writes batches of records to `engine`; remembers what it attached (`WriterMemory`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._driver: DriverStatements = driver_statements_for(engine.dialect)
        self.memory = WriterMemory()

    def write(self, batch: Sequence[Record], *, new: bool = False) -> None:
        """Store `batch` in one transaction; raises the database's error if it fails.

        `new`: no attempt to store any record of `batch` was made before, so none can be in
        the database (a failed attempt may have committed, its acknowledgement lost). Its
        events and messages are then copied straight into their tables on PostgreSQL, instead
        of through the temporary table that makes writing again harmless.
        """
        plan = plan_batch(batch, self.memory)
        with driver_transaction(self._engine, "the recorder's batch") as cursor:
            self._apply(cursor, plan, new=new)
        self.memory.learn(plan)

    def _apply(self, cursor: Any, plan: BatchPlan, *, new: bool = False) -> None:
        """The plan's statements on the driver's `cursor`, in one transaction."""
        sql = self._driver
        sql.upsert_assistants.run_dicts(cursor, [_assistant_row(a) for a in plan.assistants])
        self._conversations(cursor, plan)
        sql.insert_runs.run(cursor, [_run_row(start) for start in plan.run_starts])
        self._backfill(cursor, plan)
        _insert(sql.insert_events, cursor, [_event_row(e) for e in plan.events], new=new)
        _insert(sql.insert_messages, cursor, [_message_row(e) for e in plan.messages], new=new)
        requested, executed, submitted = _tool_rows(plan)
        sql.tool_requested.run(cursor, requested)
        sql.tool_executed.run(cursor, executed)
        sql.tool_submitted.run(cursor, submitted)
        if plan.run_changes:
            sql.change_runs.run_dicts(cursor, self._run_change_rows(cursor, plan))
        sql.sum_usage.run_dicts(cursor, [{"b_id": run_id} for run_id in plan.usage_runs])
        titled = sorted(plan.titled_conversations)
        sql.set_titles.run_dicts(cursor, [{"b_id": c} for c in titled])

    def _conversations(self, cursor: Any, plan: BatchPlan) -> None:
        sql = self._driver
        spans = plan.conversations.values()
        # A conversation an earlier batch stored with its session: its row is there, only
        # touched (the insert and the claim would change nothing).
        claimed = self.memory.claimed
        new = [s for s in spans if s.conversation_id not in claimed]
        rows = [(s.conversation_id, s.session_id, s.first_at, s.last_at) for s in new] + [
            (n.conversation_id, None, n.at, n.at) for n in plan.notes
        ]
        sql.insert_conversations.run(cursor, rows)
        sql.touch_conversations.run_dicts(
            cursor, [{"b_id": s.conversation_id, "b_at": s.last_at} for s in spans]
        )
        claims = [
            {"b_id": s.conversation_id, "b_session": s.session_id}
            for s in new
            if s.session_id is not None
        ]
        sql.claim_sessions.run_dicts(cursor, claims)
        notes = [
            {"b_id": n.conversation_id, "b_assistant": n.assistant_id, "b_backend": n.backend}
            for n in plan.notes
        ]
        sql.note_conversations.run_dicts(cursor, notes)

    def _backfill(self, cursor: Any, plan: BatchPlan) -> None:
        """Attach rows stored (in earlier batches) before their conversation or run id."""
        sessions = [
            {"b_session": session, "b_conversation": conversation}
            for session, conversation in plan.session_bindings.items()
        ]
        exchanges = [
            {"b_exchange": exchange, "b_run": run}
            for exchange, run in plan.exchange_bindings.items()
        ]
        for statement in self._driver.backfill_conversation:
            statement.run_dicts(cursor, sessions)
        for statement in self._driver.backfill_run:
            statement.run_dicts(cursor, exchanges)

    def _run_change_rows(self, cursor: Any, plan: BatchPlan) -> list[dict[str, Any]]:
        starts = plan.known_starts
        rows = []
        for change in plan.run_changes.values():
            duration = None
            if change.ended_at is not None:
                started = starts.get(change.run_id) or self.memory.run_starts.get(change.run_id)
                if started is None:  # started before this writer's time
                    started = self._started_at(cursor, change.run_id)
                if started is not None:
                    duration = max(0.0, (change.ended_at - started).total_seconds())
            rows.append(
                {
                    "b_id": change.run_id,
                    "b_status": change.status,
                    "b_ended": change.ended_at,
                    "b_duration": duration,
                    "b_error": change.error_message,
                    "b_code": change.error_code,
                }
            )
        return rows

    def _started_at(self, cursor: Any, run_id: str) -> datetime | None:
        cursor.execute(self._driver.run_started_at.sql, (run_id,))
        found = cursor.fetchone()
        # The column type reads the driver's value (sqlite: text) as SQLAlchemy would.
        return _UTC_TIME.process_result_value(found[0], self._engine.dialect) if found else None


def _insert(statement: Insert, cursor: Any, rows: list[tuple[Any, ...]], *, new: bool) -> None:
    if new and isinstance(statement, CopyInsert):
        statement.run_new(cursor, rows)
    else:
        statement.run(cursor, rows)


def _assistant_row(record: AssistantRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "model": record.model,
        "instructions": record.instructions,
        "tools": list(record.tools),
        "backend": record.backend,
        "created_at": record.created_at,
    }


def _run_row(start: RunStart) -> tuple[Any, ...]:
    """`RUN_COLUMNS` of a run first seen in the batch."""
    return (
        start.run_id, start.conversation_id, start.session_id, start.exchange_id,
        start.status, start.started_at,
    )  # fmt: skip
