"""Which journal a conversation keeps (DESIGN.md section 9).

With recording on, the exchange journal lives in the toolkit's database (`DATABASE_URL`), so
an exchange interrupted by a crash can be finished by any process or machine sharing it. With
recording off, a process-wide journal in memory still gives exactly-once tool calls within the
process.
"""

from __future__ import annotations

import functools

from conversation.settings import Settings
from mediator.journal import Journal, MemoryJournal
from persistence import DEFAULT_DATABASE_URL

__all__ = ["journal_for"]

_memory = MemoryJournal()


def journal_for(settings: Settings) -> Journal:
    """The journal for `settings`: the database's when recording, else this process's."""
    if not settings.record_events:
        return _memory
    return _database_journal(settings.database_url or DEFAULT_DATABASE_URL)


@functools.cache
def _database_journal(url: str) -> Journal:
    from persistence import DatabaseJournal, shared_engine  # SQLAlchemy: only when recording

    return DatabaseJournal(shared_engine(url))
