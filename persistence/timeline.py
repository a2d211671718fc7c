"""A run's timeline for a chart: how long it spent in each state, and each tool call's span.

State intervals come from the run's ``StateChanged`` events in order (the ``ready`` before the
run started included): each state lasts until the next change; the last one ends when the run
ended (a zero-length span for the final state), or at the latest event if it is still going.
Tool spans come from the tool calls table: requested -> executed, plus when they were
submitted. Approval spans come from the approval events: requested -> approved or rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from persistence.errors import RunNotFoundError
from persistence.history_rows import ApprovalSpan, StateSpan, Timeline, ToolSpan
from persistence.models import Run, RunEvent, ToolCallRow

__all__ = ["run_timeline", "state_spans"]


def state_spans(
    changes: list[tuple[str, str | None, datetime]], end: datetime
) -> tuple[StateSpan, ...]:
    """Spans from (state, trigger, at) changes in order; the last one lasts until `end`."""
    spans: list[StateSpan] = []
    for index, (state, trigger, at) in enumerate(changes):
        until = changes[index + 1][2] if index + 1 < len(changes) else max(end, at)
        spans.append(StateSpan(state=state, start=at, end=until, trigger=trigger))
    return tuple(spans)


def _tool_span(row: Any) -> ToolSpan:
    start = row.requested_at
    if start is None and row.executed_at is not None:
        start = row.executed_at - timedelta(seconds=row.duration_s or 0.0)
    return ToolSpan(
        call_id=row.call_id,
        name=row.name,
        start=start,
        end=row.executed_at,
        submitted_at=row.submitted_at,
        is_error=row.is_error,
        error_type=row.error_type,
    )


def run_timeline(session: Session, run_id: str) -> Timeline:
    """The timeline of run `run_id`; raises `RunNotFoundError` if there is no such run."""
    run = session.execute(
        select(Run.id, Run.status, Run.started_at, Run.ended_at).where(Run.id == run_id)
    ).one_or_none()
    if run is None:
        raise RunNotFoundError(run_id)
    changes = [
        (state, trigger, at)
        for state, trigger, at in session.execute(
            select(RunEvent.state, RunEvent.trigger, RunEvent.at)
            .where(RunEvent.run_id == run_id, RunEvent.type == "StateChanged")
            .order_by(RunEvent.seq, RunEvent.id)
        )
    ]
    last_event = session.execute(
        select(RunEvent.at).where(RunEvent.run_id == run_id).order_by(RunEvent.seq.desc()).limit(1)
    ).scalar_one_or_none()
    end = run.ended_at or last_event or run.started_at
    calls = session.execute(
        select(
            ToolCallRow.call_id,
            ToolCallRow.name,
            ToolCallRow.requested_at,
            ToolCallRow.executed_at,
            ToolCallRow.submitted_at,
            ToolCallRow.duration_s,
            ToolCallRow.is_error,
            ToolCallRow.error_type,
        )
        .where(ToolCallRow.run_id == run_id)
        .order_by(ToolCallRow.requested_at, ToolCallRow.executed_at, ToolCallRow.call_id)
    ).all()
    spans = tuple(_tool_span(call) for call in calls)
    approvals = _approval_spans(
        session.execute(
            select(
                RunEvent.type, RunEvent.call_id, RunEvent.tool_name, RunEvent.output, RunEvent.at
            )
            .where(RunEvent.run_id == run_id, RunEvent.type.in_(_APPROVAL_TYPES))
            .order_by(RunEvent.seq, RunEvent.id)
        ).all()
    )
    return Timeline(
        run_id=run.id,
        status=run.status,
        started_at=run.started_at,
        ended_at=run.ended_at,
        states=state_spans(changes, end),
        tool_calls=spans,
        approvals=approvals,
    )


_APPROVAL_TYPES = ("ApprovalRequested", "ApprovalGiven", "ApprovalRejected")


def _approval_spans(rows: Sequence[Any]) -> tuple[ApprovalSpan, ...]:
    """One span per call asked about, from its request to its answer (in event order)."""
    spans: dict[str, ApprovalSpan] = {}
    for kind, call_id, name, output, at in rows:
        if kind == "ApprovalRequested":
            spans[call_id] = ApprovalSpan(call_id, name or "", at, None, None, None)
        elif call_id in spans and spans[call_id].end is None:
            approved = kind == "ApprovalGiven"
            spans[call_id] = replace(spans[call_id], end=at, approved=approved, outcome=output)
    return tuple(spans.values())
