"""A recorded conversation's transcript, for a page that reopens it (`?conversation=ID`).

The database layer is imported on first use: `import conversation` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from conversation.journaling import journal_for
from conversation.settings import Settings
from mediator.journal import JournalExchange

if TYPE_CHECKING:
    from persistence.transcript import Transcript

__all__ = ["interrupted_exchange", "recorded_transcript"]

FLUSH_BEFORE_READING_S = 5.0


def recorded_transcript(conversation_id: str, settings: Settings) -> Transcript | None:
    """The conversation's recorded turns; None if recording is off or it was never recorded."""
    if not settings.record_events:
        return None
    from persistence import DEFAULT_DATABASE_URL, HistoryStore, current_recorder, shared_engine
    from persistence.schema import current_revision

    url = settings.database_url or DEFAULT_DATABASE_URL
    if (recorder := current_recorder()) is not None:
        # This process's own last events may still be queued: store them before reading.
        recorder.flush(FLUSH_BEFORE_READING_S)
    engine = shared_engine(url)
    if current_revision(engine) is None:  # nothing was ever recorded here
        return None
    return HistoryStore(engine).transcript(conversation_id)


def interrupted_exchange(conversation_id: str, settings: Settings) -> JournalExchange | None:
    """The conversation's last exchange if it never ended (its process died): finish it."""
    last = journal_for(settings).last_exchange(conversation_id)
    return last if last is not None and last.ended is None else None
