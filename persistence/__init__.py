"""Persistence: every mediator event recorded, and the history read back.

- `Recorder` (`start_recording()` for the apps) subscribes to every topic and stores events in
  batches from one writer thread; the database never slows a conversation.
- ``DATABASE_URL`` picks the database (`database_url`, `make_engine`): a sqlite file under
  ``dbstorage/`` by default, PostgreSQL to scale out.
- The schema is managed by Alembic revisions inside this package; ``python db_setup.py``
  creates or upgrades it (`upgrade_schema`).
- `HistoryStore` and `persistence.history` answer the history page's queries; a
  `ConversationFilter` says which conversations (the same one for the list, its count and
  the usage totals).

SQLAlchemy and Alembic are imported only inside this package, and only when a name that needs
them is first used: `import persistence` (and its settings and errors) stays light, so a
process that records nothing, or has not yet recorded, never pays for them. Nothing runs at
import time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from persistence.assistants import AssistantStore
    from persistence.conversation_filter import ConversationFilter
    from persistence.engine import (
        database_url,
        display_url,
        make_engine,
        shared_engine,
    )
    from persistence.errors import (
        DatabaseUnavailableError,
        HistoryQueryError,
        PersistenceError,
        RunNotFoundError,
        SchemaError,
        SchemaNotReadyError,
    )
    from persistence.history import (
        count_conversations,
        count_runs,
        list_assistants,
        list_conversations,
        list_messages,
        list_run_events,
        list_runs,
    )
    from persistence.history_rows import (
        MAX_LIMIT,
        ApprovalSpan,
        AssistantRow,
        ConversationRow,
        MessageRow,
        Page,
        RunEventRow,
        RunRow,
        StateSpan,
        Timeline,
        ToolSpan,
    )
    from persistence.history_store import HistoryStore
    from persistence.journal import DatabaseJournal
    from persistence.process import current_recorder, install_signal_handlers, start_recording
    from persistence.recorder import Recorder, RecorderStats
    from persistence.records import AssistantRecord
    from persistence.schema import SchemaChange, check_schema, head_revision, upgrade_schema
    from persistence.settings import DEFAULT_DATABASE_URL
    from persistence.timeline import run_timeline
    from persistence.transcript import Transcript, TranscriptCall, TranscriptTurn
    from persistence.usage_history import CostPoint, UsageTotals

__all__ = [
    "DEFAULT_DATABASE_URL",
    "MAX_LIMIT",
    "ApprovalSpan",
    "AssistantRecord",
    "AssistantRow",
    "AssistantStore",
    "ConversationFilter",
    "ConversationRow",
    "CostPoint",
    "DatabaseJournal",
    "DatabaseUnavailableError",
    "HistoryQueryError",
    "HistoryStore",
    "MessageRow",
    "Page",
    "PersistenceError",
    "Recorder",
    "RecorderStats",
    "RunEventRow",
    "RunNotFoundError",
    "RunRow",
    "SchemaChange",
    "SchemaError",
    "SchemaNotReadyError",
    "StateSpan",
    "Timeline",
    "ToolSpan",
    "Transcript",
    "TranscriptCall",
    "TranscriptTurn",
    "UsageTotals",
    "check_schema",
    "count_conversations",
    "current_recorder",
    "count_runs",
    "database_url",
    "display_url",
    "head_revision",
    "install_signal_handlers",
    "list_assistants",
    "list_conversations",
    "list_messages",
    "list_run_events",
    "list_runs",
    "make_engine",
    "run_timeline",
    "shared_engine",
    "start_recording",
    "upgrade_schema",
]

# Where each public name lives; `__getattr__` imports the module on first use (PEP 562).
_HOMES: dict[str, str] = {
    "DEFAULT_DATABASE_URL": "persistence.settings",
    "MAX_LIMIT": "persistence.history_rows",
    "ApprovalSpan": "persistence.history_rows",
    "AssistantRecord": "persistence.records",
    "AssistantRow": "persistence.history_rows",
    "AssistantStore": "persistence.assistants",
    "ConversationFilter": "persistence.conversation_filter",
    "ConversationRow": "persistence.history_rows",
    "DatabaseJournal": "persistence.journal",
    "DatabaseUnavailableError": "persistence.errors",
    "HistoryQueryError": "persistence.errors",
    "HistoryStore": "persistence.history_store",
    "MessageRow": "persistence.history_rows",
    "Page": "persistence.history_rows",
    "PersistenceError": "persistence.errors",
    "Recorder": "persistence.recorder",
    "RecorderStats": "persistence.recorder",
    "RunEventRow": "persistence.history_rows",
    "RunNotFoundError": "persistence.errors",
    "RunRow": "persistence.history_rows",
    "SchemaChange": "persistence.schema",
    "SchemaError": "persistence.errors",
    "SchemaNotReadyError": "persistence.errors",
    "StateSpan": "persistence.history_rows",
    "Timeline": "persistence.history_rows",
    "ToolSpan": "persistence.history_rows",
    "Transcript": "persistence.transcript",
    "TranscriptCall": "persistence.transcript",
    "TranscriptTurn": "persistence.transcript",
    "UsageTotals": "persistence.usage_history",
    "CostPoint": "persistence.usage_history",
    "check_schema": "persistence.schema",
    "count_conversations": "persistence.history",
    "count_runs": "persistence.history",
    "current_recorder": "persistence.process",
    "database_url": "persistence.engine",
    "display_url": "persistence.engine",
    "head_revision": "persistence.schema",
    "install_signal_handlers": "persistence.process",
    "list_assistants": "persistence.history",
    "list_conversations": "persistence.history",
    "list_messages": "persistence.history",
    "list_run_events": "persistence.history",
    "list_runs": "persistence.history",
    "make_engine": "persistence.engine",
    "run_timeline": "persistence.timeline",
    "shared_engine": "persistence.engine",
    "start_recording": "persistence.process",
    "upgrade_schema": "persistence.schema",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'persistence' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # the next lookup finds it directly
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
