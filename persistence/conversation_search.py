"""Which conversations a text search matches, found without touching every matching message.

A text search finds the conversations with a message containing every word of the text: whole
words, case-insensitive, all in one message. The index does the matching: FTS5 (the
``messages_fts`` table kept by triggers) on sqlite, the GIN index over
``to_tsvector('simple', text)`` on PostgreSQL; other databases fall back to ILIKE.

Finding the messages is cheap; what costs is mapping each one to its conversation (a lookup
per message), and a common word can match most of the history. So the work is bounded by what
the page shows, never by how many messages match:

- `matching_conversations` reads matches until it has seen `limit` + 1 different
  conversations: a rare word gives its whole set, exactly; a common one stops early;
- for a common word, `matching_among` tells which of a chunk of candidate conversations (the
  next ones in the list's order) match, so the list is walked in order until the page is
  full (`persistence.conversation_walk`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from sqlalchemy import ColumnElement, String, column, func, literal_column, select, table
from sqlalchemy.orm import Session

from persistence.models import Message

__all__ = [
    "fts_query",
    "matching_among",
    "matching_conversations",
    "message_match",
]

_STREAM_ROWS: Final = 500

_fts = table("messages_fts", column("rowid"), column("messages_fts"))


def fts_query(text: str) -> str:
    """An FTS5 query matching every word of `text` literally (no FTS operators)."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in text.split())


def message_match(session: Session, text: str) -> ColumnElement[bool]:
    """Messages containing every word of `text` (as a condition on `Message`)."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        matching = select(_fts.c.rowid).where(_fts.c.messages_fts.op("MATCH")(fts_query(text)))
        return Message.id.in_(matching)
    if dialect == "postgresql":
        # A literal constant, not a bound parameter, so the expression matches the index's.
        simple: ColumnElement[str] = literal_column("'simple'", String())
        vector = func.to_tsvector(simple, Message.text)
        return vector.op("@@")(func.plainto_tsquery(simple, text))
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Message.text.ilike(f"%{escaped}%", escape="\\")


def matching_conversations(session: Session, text: str, limit: int) -> tuple[list[str], bool]:
    """Up to `limit` conversations with a message matching `text` (in no particular order),
    and whether that is all of them. Reads matches only until a `limit` + 1st conversation
    shows up."""
    found: dict[str, None] = {}
    if session.get_bind().dialect.name == "sqlite":
        # FTS5 first, then each match's message by its rowid: stops as soon as enough are seen.
        statement = (
            select(Message.conversation_id)
            .select_from(_fts)
            .join(Message, Message.id == _fts.c.rowid)
            .where(_fts.c.messages_fts.op("MATCH")(fts_query(text)))
        )
    else:
        statement = select(Message.conversation_id).where(message_match(session, text))
    result = session.execute(statement.execution_options(yield_per=_STREAM_ROWS))
    try:
        for (conversation_id,) in result:
            if conversation_id is None:
                continue  # a message not attached to its conversation yet
            found[conversation_id] = None
            if len(found) > limit:
                return list(found)[:limit], False
    finally:
        result.close()
    return list(found), True


def matching_among(session: Session, text: str, conversation_ids: Sequence[str]) -> set[str]:
    """Which of `conversation_ids` have a message matching `text`."""
    if not conversation_ids:
        return set()
    if session.get_bind().dialect.name == "sqlite":
        return _sqlite_matching_among(session, text, conversation_ids)
    statement = (
        select(Message.conversation_id)
        .where(Message.conversation_id.in_(conversation_ids), message_match(session, text))
        .distinct()
    )
    return {row for row in session.execute(statement).scalars() if row is not None}


def _sqlite_matching_among(
    session: Session, text: str, conversation_ids: Sequence[str]
) -> set[str]:
    # The chunk's messages lie between two rowids; FTS5 seeks to that range of its matches
    # (usually the newest few, as the chunk is the next conversations in the list's order)
    # instead of reading them all.
    low, high = session.execute(
        select(func.min(Message.id), func.max(Message.id)).where(
            Message.conversation_id.in_(conversation_ids)
        )
    ).one()
    if low is None:
        return set()
    statement = (
        select(Message.conversation_id)
        .select_from(_fts)
        .join(Message, Message.id == _fts.c.rowid)
        .where(
            _fts.c.messages_fts.op("MATCH")(fts_query(text)),
            _fts.c.rowid.between(low, high),
            Message.conversation_id.in_(conversation_ids),
        )
        .distinct()
    )
    return {row for row in session.execute(statement).scalars() if row is not None}
