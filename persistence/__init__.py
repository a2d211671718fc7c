"""Persistence: every mediator event recorded, and the history read back.

- `Recorder` (`start_recording()` for the apps) subscribes to every topic and stores events in
  batches from one writer thread; the database never slows a conversation.
- ``DATABASE_URL`` picks the database (`database_url`, `make_engine`): a sqlite file under
  ``dbstorage/`` by default, PostgreSQL to scale out.
- The schema is managed by Alembic revisions inside this package; ``python db_setup.py``
  creates or upgrades it (`upgrade_schema`).
- `HistoryStore` and `persistence.history` answer the history page's queries.

SQLAlchemy and Alembic are imported only inside this package. Nothing runs at import time.
"""

from __future__ import annotations

from persistence.assistants import AssistantStore
from persistence.engine import (
    DEFAULT_DATABASE_URL,
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
from persistence.timeline import run_timeline
from persistence.transcript import Transcript, TranscriptCall, TranscriptTurn

__all__ = [
    "DEFAULT_DATABASE_URL",
    "MAX_LIMIT",
    "AssistantRecord",
    "AssistantRow",
    "AssistantStore",
    "ConversationRow",
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
    "ApprovalSpan",
    "StateSpan",
    "Timeline",
    "Transcript",
    "TranscriptCall",
    "TranscriptTurn",
    "ToolSpan",
    "check_schema",
    "current_recorder",
    "count_conversations",
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
