"""`HistoryStore`: the history queries for a page that has an engine, not a session.

Each call opens a short session, runs one query function from `persistence.history` or
`persistence.timeline`, and closes it; results are frozen dataclasses, safe to keep.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from persistence import history, timeline, transcript, usage_history
from persistence.conversation_filter import ConversationFilter, FilterFields, filter_of
from persistence.engine import make_engine
from persistence.history import ConversationOrder
from persistence.history_rows import (
    AssistantRow,
    ConversationRow,
    MessageRow,
    Page,
    RunEventRow,
    RunRow,
    Timeline,
)
from persistence.usage_history import CostPoint, UsageTotals

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["HistoryStore"]

P = ParamSpec("P")
R = TypeVar("R")


class HistoryStore:
    """Read-only access to the recorded history; `engine_or_url` defaults to ``DATABASE_URL``."""

    def __init__(self, engine_or_url: Engine | str | None = None) -> None:
        self._owns_engine = not isinstance(engine_or_url, Engine)
        self._engine = (
            engine_or_url if isinstance(engine_or_url, Engine) else make_engine(engine_or_url)
        )

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        """Release the connections (only if this store made the engine)."""
        if self._owns_engine:
            self._engine.dispose()

    def _run(
        self, query: Callable[Concatenate[Session, P], R], *args: P.args, **kwargs: P.kwargs
    ) -> R:
        with Session(self._engine) as session:
            return query(session, *args, **kwargs)

    def list_conversations(
        self,
        where: ConversationFilter | None = None,
        *,
        order: ConversationOrder = "updated",
        limit: int = 50,
        offset: int = 0,
        **fields: Unpack[FilterFields],
    ) -> Page[ConversationRow]:
        """See `persistence.history.list_conversations`."""
        where = filter_of(where, fields)
        return self._run(history.list_conversations, where, order=order, limit=limit, offset=offset)

    def count_conversations(
        self, where: ConversationFilter | None = None, **fields: Unpack[FilterFields]
    ) -> int:
        return self._run(history.count_conversations, filter_of(where, fields))

    def list_runs(
        self,
        conversation_id: str,
        *,
        status: str | None = None,
        newest_first: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> Page[RunRow]:
        return self._run(
            history.list_runs,
            conversation_id,
            status=status,
            newest_first=newest_first,
            limit=limit,
            offset=offset,
        )

    def count_runs(self, conversation_id: str, *, status: str | None = None) -> int:
        return self._run(history.count_runs, conversation_id, status=status)

    def list_run_events(
        self, run_id: str, *, limit: int = 100, offset: int = 0
    ) -> Page[RunEventRow]:
        return self._run(history.list_run_events, run_id, limit=limit, offset=offset)

    def list_messages(
        self, conversation_id: str, *, limit: int = 50, offset: int = 0
    ) -> Page[MessageRow]:
        return self._run(history.list_messages, conversation_id, limit=limit, offset=offset)

    def list_assistants(self) -> tuple[AssistantRow, ...]:
        return self._run(history.list_assistants)

    def run_timeline(self, run_id: str) -> Timeline:
        return self._run(timeline.run_timeline, run_id)

    def transcript(self, conversation_id: str) -> transcript.Transcript | None:
        """See `persistence.transcript.conversation_transcript`."""
        return self._run(transcript.conversation_transcript, conversation_id)

    def usage_totals(
        self,
        where: ConversationFilter | None = None,
        *,
        conversation_id: str | None = None,
        **fields: Unpack[FilterFields],
    ) -> UsageTotals:
        """See `persistence.usage_history.usage_totals`."""
        where = filter_of(where, fields)
        return self._run(usage_history.usage_totals, where, conversation_id=conversation_id)

    def cost_by_day(
        self, where: ConversationFilter | None = None, **fields: Unpack[FilterFields]
    ) -> tuple[CostPoint, ...]:
        """See `persistence.usage_history.cost_by_day`."""
        return self._run(usage_history.cost_by_day, filter_of(where, fields))
