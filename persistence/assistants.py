"""Assistant definitions kept by the toolkit: the Responses API has no assistant object, so
the model, instructions and tools of an assistant live here, written by `assistant_setup.py`
and read when a conversation starts. Written directly (not through the event queue) because
the setup script must know the definition is stored before it prints the id.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from persistence.engine import is_sqlite, shared_engine
from persistence.models import Assistant
from persistence.records import AssistantRecord
from persistence.schema import ensure_schema


class AssistantStore:
    """Read and write assistant definitions in the toolkit's database."""

    def __init__(self, engine_or_url: Engine | str | None = None) -> None:
        # A URL means the process's shared engine for it (one pool per database).
        if isinstance(engine_or_url, Engine):
            self._engine = engine_or_url
        else:
            self._engine = shared_engine(engine_or_url)
        self._ready = False

    def _ensure(self) -> None:
        if not self._ready:
            # The default sqlite file is created on first use, as the recorder does.
            ensure_schema(self._engine, upgrade=is_sqlite(self._engine))
            self._ready = True

    def get(self, assistant_id: str) -> AssistantRecord | None:
        self._ensure()
        with Session(self._engine) as session:
            row = session.scalars(select(Assistant).where(Assistant.id == assistant_id)).first()
            if row is None:
                return None
            created = row.created_at
            if created.tzinfo is None:
                created = created.replace(tzinfo=UTC)
            tools: tuple[dict[str, Any], ...] = tuple(row.tools or ())
            return AssistantRecord(
                id=row.id,
                name=row.name,
                model=row.model,
                backend=row.backend,
                instructions=row.instructions or "",
                tools=tools,
                created_at=created,
            )

    def save(self, record: AssistantRecord) -> None:
        """Insert or replace the definition with `record.id`."""
        self._ensure()
        with Session(self._engine) as session, session.begin():
            session.merge(
                Assistant(
                    id=record.id,
                    name=record.name,
                    model=record.model,
                    instructions=record.instructions,
                    tools=list(record.tools),
                    backend=record.backend,
                    created_at=record.created_at,
                )
            )

    def close(self) -> None:
        """Nothing to release: engines are shared or owned by whoever passed one in."""
