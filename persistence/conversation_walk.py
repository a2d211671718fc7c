"""How `list_conversations` applies a filter that matches many conversations.

A filter of the form "has a run in state S" or "has a message with these words" is a set of
conversations. When the set is small it is read whole (at most `SET_LIMIT` ids) and the query
becomes ``id IN (...)``: the database sorts a few rows. When it is large, reading it whole costs
a lookup per member (hundreds of milliseconds at 100,000 conversations) though the page shows
fifty. A large status set is then a correlated EXISTS on the runs' (status, conversation)
index, which the database probes row by row down the list's order. A large text set has no
such cheap probe (an FTS5 query per conversation is not): the conversations are walked in the
list's order, a chunk at a time (the order's index gives them cheaply), and each chunk is
checked against the search (`Check`) until the page is full. The denser the set, the shorter
the walk; a set this large is at least `SET_LIMIT` conversations, so the walk is bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from persistence.models import Conversation

__all__ = ["SET_LIMIT", "Check", "Plan", "walk"]

SET_LIMIT: Final = 1000
"""Up to this many members, a filter's set is read whole and used as ``id IN (...)``."""

_FIRST_CHUNK: Final = 200
_LARGEST_CHUNK: Final = 4000

Check = Callable[[Sequence[str]], set[str]]
"""Which of these conversation ids pass a filter."""


@dataclass(slots=True)
class Plan:
    """A conversation query: SQL conditions, and the checks of large sets (walked)."""

    conditions: list[ColumnElement[bool]] = field(default_factory=list)
    listing: list[ColumnElement[bool]] = field(default_factory=list)
    """More conditions, shaped for listing in order (a correlated EXISTS probed per row)."""
    counting: list[ColumnElement[bool]] = field(default_factory=list)
    """The same conditions as `listing`, shaped for counting (a semi-join over an index)."""
    checks: list[Check] = field(default_factory=list)
    narrowed: bool = False
    """Whether anything narrows the conversations besides the checks."""
    empty: bool = False
    """A filter's set is known to be empty: nothing matches."""
    count: Select[int] | None = None
    """Counts the matches exactly and cheaply, when the filters allow (None: they do not)."""


def walk(session: Session, plan: Plan, order: Sequence[Any], wanted: int) -> tuple[list[str], bool]:
    """The first `wanted` conversations (ids, in `order`) meeting the plan's conditions and
    passing every check; and whether every conversation was looked at."""
    found: list[str] = []
    position, size = 0, _FIRST_CHUNK
    while len(found) < wanted:
        chunk = list(
            session.execute(
                select(Conversation.id)
                .where(*plan.conditions, *plan.listing)
                .order_by(*order)
                .limit(size)
                .offset(position)
            ).scalars()
        )
        passing = set(chunk)
        for check in plan.checks:
            passing &= check([c for c in chunk if c in passing])
        found += [c for c in chunk if c in passing]
        position += len(chunk)
        if len(chunk) < size:
            return found[:wanted], True
        size = min(size * 2, _LARGEST_CHUNK)
    return found[:wanted], False
