"""Recording every event of the process's conversations (the persistence recorder).

A database that cannot be used never stops a conversation: the problem is reported once,
clearly, and the conversation goes on unrecorded.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import TYPE_CHECKING

from conversation.settings import Settings
from persistence import PersistenceError

if TYPE_CHECKING:
    from persistence import Recorder

logger = logging.getLogger(__name__)
_warned = threading.Event()


def recorder_for(settings: Settings) -> Recorder | None:
    """The process's recorder for `settings`, or None when recording is off or impossible."""
    if not settings.record_events:
        return None
    from persistence import display_url, start_recording  # SQLAlchemy: only when recording

    try:
        # The apps install the SIGTERM flush (they own the process); a library call does not.
        return start_recording(settings.database_url, install_signals=False)
    except PersistenceError as exc:
        if not _warned.is_set():
            _warned.set()
            where = display_url(settings.database_url) if settings.database_url else "default"
            print(
                f"Not recording this conversation (database {where}): {exc}",
                file=sys.stderr,
            )
        logger.warning("recording disabled: %s", exc)
        return None
