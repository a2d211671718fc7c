"""Writing one batch of records in one transaction, idempotently.

`BatchWriter.write(batch)` plans the batch (`persistence.batch_plan`) and applies the plan in a
single transaction (``BEGIN IMMEDIATE`` on sqlite, so a locked file makes it wait its busy
timeout, then fail cleanly), as a handful of executemany statements
(`persistence.statements`). Writing the same batch again changes nothing: events and messages
are inserted with ``ON CONFLICT DO NOTHING`` on their ``event_uuid``, conversations and runs
on their ids, tool calls are upserts on (run, call id), and every update sets values that do
not depend on how often it runs. So a retry after a commit whose acknowledgement was lost
cannot duplicate anything.

Only the recorder's writer thread uses a `BatchWriter`; it is not thread-safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, Engine, select

from persistence.batch_plan import BatchPlan, RunStart, WriterMemory, plan_batch
from persistence.engine import SQLITE_BEGIN_OPTION
from persistence.models import Run
from persistence.records import AssistantRecord, EventRecord, Record
from persistence.statements import Statements, statements_for

__all__ = ["BatchWriter"]

_EVENT_COLUMNS = (
    "event_uuid", "session_id", "exchange_id", "conversation_id", "run_id", "seq", "type",
    "topic", "state", "previous_state", "trigger", "tool_name", "call_id", "input", "output",
    "code", "is_error", "at", "model", "input_tokens", "cached_input_tokens", "output_tokens",
    "reasoning_tokens", "cost_usd",
)  # fmt: skip


_event_values = attrgetter(*_EVENT_COLUMNS)


def _message_row(event: EventRecord) -> dict[str, Any]:
    return {
        "event_uuid": event.event_uuid,
        "conversation_id": event.conversation_id,
        "run_id": event.run_id,
        "session_id": event.session_id,
        "exchange_id": event.exchange_id,
        "role": event.role,
        "text": event.message_text or "",
        "created_at": event.at,
    }


def _tool_rows(plan: BatchPlan) -> dict[str, list[dict[str, Any]]]:
    """Tool-call rows by kind (requested, executed, submitted), in batch order."""
    rows: dict[str, list[dict[str, Any]]] = {"requested": [], "executed": [], "submitted": []}
    for event in plan.events:
        if not event.calls or event.run_id is None:
            continue
        for call in event.calls:
            row: dict[str, Any] = {
                "run_id": event.run_id,
                "call_id": call.call_id,
                "conversation_id": event.conversation_id,
                "name": call.name,
                "arguments": call.arguments or "",
            }
            if event.type == "ActionRequired":
                rows["requested"].append(row | {"requested_at": event.at})
            elif event.type == "ToolExecuted":
                rows["executed"].append(
                    row
                    | {
                        "output": call.output,
                        "is_error": call.is_error,
                        "error_type": call.error_type,
                        "duration_s": call.duration_s,
                        "executed_at": event.at,
                    }
                )
            else:
                rows["submitted"].append(row | {"output": call.output, "submitted_at": event.at})
    return rows


class BatchWriter:
    """Writes batches of records to `engine`; remembers what it attached (`WriterMemory`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._sql: Statements = statements_for(engine.dialect.name)
        self.memory = WriterMemory()

    def write(self, batch: Sequence[Record]) -> None:
        """Store `batch` in one transaction; raises the database's error if it fails."""
        plan = plan_batch(batch, self.memory)
        with self._engine.connect() as connection:
            connection.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
            with connection.begin():
                self._apply(connection, plan)
        self.memory.learn(plan)

    def _apply(self, connection: Connection, plan: BatchPlan) -> None:
        sql = self._sql
        run = connection.execute
        if plan.assistants:
            run(sql.upsert_assistants, [_assistant_row(a) for a in plan.assistants])
        self._conversations(connection, plan)
        if plan.run_starts:
            run(sql.insert_runs, [_run_row(start) for start in plan.run_starts])
        self._backfill(connection, plan)
        if plan.events:
            rows = [dict(zip(_EVENT_COLUMNS, _event_values(e), strict=True)) for e in plan.events]
            run(sql.insert_events, rows)
        if messages := plan.messages:
            run(sql.insert_messages, [_message_row(e) for e in messages])
        tools = _tool_rows(plan)
        for kind, statement in (
            ("requested", sql.tool_requested),
            ("executed", sql.tool_executed),
            ("submitted", sql.tool_submitted),
        ):
            if tools[kind]:
                run(statement, tools[kind])
        if plan.run_changes:
            run(sql.change_runs, self._run_change_rows(connection, plan))
        if usage_runs := plan.usage_runs:
            run(sql.sum_usage, [{"b_id": run_id} for run_id in usage_runs])
        if titled := plan.titled_conversations:
            run(sql.set_titles, [{"b_id": c} for c in sorted(titled)])

    def _conversations(self, connection: Connection, plan: BatchPlan) -> None:
        sql = self._sql
        rows = [
            {"id": s.conversation_id, "session_id": s.session_id,
             "created_at": s.first_at, "updated_at": s.last_at}
            for s in plan.conversations.values()
        ] + [
            {"id": n.conversation_id, "session_id": None, "created_at": n.at, "updated_at": n.at}
            for n in plan.notes
        ]  # fmt: skip
        if rows:
            connection.execute(sql.insert_conversations, rows)
        if plan.conversations:
            touched = [
                {"b_id": s.conversation_id, "b_at": s.last_at} for s in plan.conversations.values()
            ]
            connection.execute(sql.touch_conversations, touched)
            claims = [
                {"b_id": s.conversation_id, "b_session": s.session_id}
                for s in plan.conversations.values()
                if s.session_id is not None
            ]
            if claims:
                connection.execute(sql.claim_sessions, claims)
        if plan.notes:
            notes = [
                {"b_id": n.conversation_id, "b_assistant": n.assistant_id, "b_backend": n.backend}
                for n in plan.notes
            ]
            connection.execute(sql.note_conversations, notes)

    def _backfill(self, connection: Connection, plan: BatchPlan) -> None:
        """Attach rows stored (in earlier batches) before their conversation or run id."""
        sessions = [
            {"b_session": session, "b_conversation": conversation}
            for session, conversation in plan.session_bindings.items()
        ]
        exchanges = [
            {"b_exchange": exchange, "b_run": run}
            for exchange, run in plan.exchange_bindings.items()
        ]
        for statement in self._sql.backfill_conversation if sessions else ():
            connection.execute(statement, sessions)
        for statement in self._sql.backfill_run if exchanges else ():
            connection.execute(statement, exchanges)

    def _run_change_rows(self, connection: Connection, plan: BatchPlan) -> list[dict[str, Any]]:
        starts = plan.known_starts
        rows = []
        for change in plan.run_changes.values():
            duration = None
            if change.ended_at is not None:
                started = starts.get(change.run_id) or self.memory.run_starts.get(change.run_id)
                if started is None:  # started before this writer's time
                    started = connection.scalar(
                        select(Run.started_at).where(Run.id == change.run_id)
                    )
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


def _run_row(start: RunStart) -> dict[str, Any]:
    return {
        "id": start.run_id,
        "conversation_id": start.conversation_id,
        "session_id": start.session_id,
        "exchange_id": start.exchange_id,
        "status": start.status,
        "started_at": start.started_at,
    }
