"""The history source of the stateless backends: the exchange journal (DESIGN.md section 5).

Servers such as Ollama, vLLM or a Chat Completions gateway keep no conversation, so the
toolkit's record is the conversation's memory. The journal is the record to use: it is written
durably and in order before each next step (the user's message, each tool call before it runs
and its output after, the reply), in the database when recording and in memory otherwise, and
a process sharing the database reads what another wrote. The event recorder's tables hold the
same facts but are written in batches, behind the live exchange.

A backend reads it only when it opens a conversation it did not start (a resumed one); the
live conversation it keeps itself.
"""

from __future__ import annotations

from conversation.journaling import journal_for
from conversation.settings import Settings
from mediator.journal import Journal, JournalExchange
from proxies.backends.history import Answered, Called, HistoryItem, HistorySource, Said

__all__ = ["JournalHistory", "history_for"]


class JournalHistory:
    """`HistorySource` over an exchange journal."""

    def __init__(self, journal: Journal) -> None:
        self._journal = journal

    def items(self, conversation_id: str) -> list[HistoryItem]:
        items: list[HistoryItem] = []
        for exchange in self._journal.exchanges_of(conversation_id):
            items.extend(exchange_items(exchange))
        return items


def exchange_items(exchange: JournalExchange) -> list[HistoryItem]:
    """One exchange as history: the user's message, each call followed by its output (when
    it has one), and the reply when the exchange completed."""
    exchange_id = exchange.exchange_id
    items: list[HistoryItem] = [Said("user", exchange.text, exchange_id)]
    for call in exchange.calls:
        items.append(Called(call.call_id, call.name, call.arguments, exchange_id))
        if call.output is not None:
            items.append(Answered(call.call_id, call.output, exchange_id))
    if exchange.ended == "completed" and exchange.reply:
        items.append(Said("assistant", exchange.reply, exchange_id))
    return items


def history_for(settings: Settings) -> HistorySource:
    """The history source for `settings`: the journal the conversation writes to."""
    return JournalHistory(journal_for(settings))
