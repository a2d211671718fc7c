"""Usage and cost read back: totals over the conversations matching the history filters, and
cost per day for the chart, as SQL aggregates (no walk over the runs in Python).

A run's cost is NULL when no price is known for it (`persistence.statements`): such runs are
counted apart (`unpriced_runs`), never as costing nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from persistence.conversation_filter import ConversationFilter, FilterFields, filter_of
from persistence.history import filter_conditions
from persistence.models import Conversation, Run

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["CostPoint", "UsageTotals", "cost_by_day", "usage_totals"]


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """The tokens and cost of a set of runs."""

    runs: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float | None = None
    """The sum over the runs with a price (None when none has one)."""
    unpriced_runs: int = 0
    """Runs that used tokens with no price known: not in `cost_usd`."""

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class CostPoint:
    """One day's runs (by start, UTC): their cost and tokens."""

    day: date
    cost_usd: float
    tokens: int
    runs: int
    unpriced_runs: int


def _unpriced() -> Any:
    return func.count(Run.id).filter(Run.total_tokens > 0, Run.cost_usd.is_(None))


def _scope(session: Session, where: ConversationFilter) -> list[Any]:
    matching = select(Conversation.id).where(*filter_conditions(session, where))
    return [Run.conversation_id.in_(matching)]


def usage_totals(
    session: Session,
    where: ConversationFilter | None = None,
    *,
    conversation_id: str | None = None,
    **fields: Unpack[FilterFields],
) -> UsageTotals:
    """The usage of one conversation's runs, or of the runs of every conversation matching
    `where` (the filter of `list_conversations`, or its fields as keyword arguments)."""
    where = filter_of(where, fields)
    scope = (
        [Run.conversation_id == conversation_id]
        if conversation_id is not None
        else _scope(session, where)
    )
    row = session.execute(
        select(
            func.count(Run.id),
            func.coalesce(func.sum(Run.prompt_tokens), 0),
            func.coalesce(func.sum(Run.cached_input_tokens), 0),
            func.coalesce(func.sum(Run.completion_tokens), 0),
            func.coalesce(func.sum(Run.reasoning_tokens), 0),
            func.sum(Run.cost_usd),
            _unpriced(),
        ).where(*scope)
    ).one()
    runs, inputs, cached, outputs, reasoning, cost, unpriced = row
    return UsageTotals(
        int(runs),
        int(inputs),
        int(cached),
        int(outputs),
        int(reasoning),
        None if cost is None else float(cost),
        int(unpriced),
    )


def cost_by_day(
    session: Session, where: ConversationFilter | None = None, **fields: Unpack[FilterFields]
) -> tuple[CostPoint, ...]:
    """Cost and tokens per day of the runs of the conversations matching `where` (or its
    fields as keyword arguments), oldest day first; days without runs are left out."""
    where = filter_of(where, fields)
    day = func.date(Run.started_at)
    rows = session.execute(
        select(
            day,
            func.coalesce(func.sum(Run.cost_usd), 0.0),
            func.coalesce(func.sum(Run.total_tokens), 0),
            func.count(Run.id),
            _unpriced(),
        )
        .where(*_scope(session, where))
        .group_by(day)
        .order_by(day)
    ).all()
    return tuple(
        CostPoint(_as_date(d), float(cost), int(tokens), int(runs), int(unpriced))
        for d, cost, tokens, runs, unpriced in rows
    )


def _as_date(value: Any) -> date:
    """sqlite's date() is text, PostgreSQL's a date."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))
