"""A conversation's history, for servers that keep none (DESIGN.md section 5).

Stateless backends (`responses-stateless`, `chat`) send the whole conversation with every
request, so the toolkit keeps it: a backend holds the live conversation's items in memory as
the exchange happens, and asks a `HistorySource` only when it opens a conversation it did not
start (a resumed one, or one begun by another process). `conversation/` provides the source
from the exchange journal (the database when recording, memory otherwise), which is written
durably and in order; the event recorder's tables are batched and lag behind, so they are not
the source.

The items are the protocol-neutral vocabulary: what was said (`Said`), the function calls the
model asked for (`Called`) and their outputs (`Answered`), each tagged with its exchange.
`tool_rounds` groups them for sending: every call is followed by its output, a call that never
got one is answered as cancelled (a server refuses a call without its output), and an output
whose call is gone is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = [
    "CANCELLED_OUTPUT",
    "Answered",
    "Called",
    "HistoryItem",
    "HistorySource",
    "NoHistory",
    "Said",
    "ToolRound",
    "Unit",
    "close_open_calls",
    "tool_rounds",
]

CANCELLED_OUTPUT = (
    "The user cancelled this tool call before its result was used; it was not completed."
)


@dataclass(frozen=True, slots=True)
class Said:
    """A message of the user or the assistant."""

    role: Literal["user", "assistant"]
    text: str
    exchange_id: str = ""


@dataclass(frozen=True, slots=True)
class Called:
    """A function call the model asked for."""

    call_id: str
    name: str
    arguments: str
    exchange_id: str = ""


@dataclass(frozen=True, slots=True)
class Answered:
    """The output of a function call."""

    call_id: str
    output: str
    exchange_id: str = ""


HistoryItem = Said | Called | Answered


class HistorySource(Protocol):
    """Where a conversation's items come from when a backend opens it.

    `items` blocks (it may read a database): backends call it in a worker thread. It returns
    every item of the conversation, oldest first, calls of an interrupted exchange included
    even without their outputs.
    """

    def items(self, conversation_id: str) -> list[HistoryItem]: ...


class NoHistory:
    """A source that knows nothing: every conversation it is asked about starts empty."""

    def items(self, conversation_id: str) -> list[HistoryItem]:
        return []


@dataclass(frozen=True, slots=True)
class ToolRound:
    """Function calls the model asked for together, and their outputs in the same order."""

    calls: tuple[Called, ...]
    outputs: tuple[Answered, ...] = field(default=())


Unit = Said | ToolRound


def close_open_calls(items: Sequence[HistoryItem], exchange_id: str = "") -> list[Answered]:
    """The outputs that answer, as cancelled, every call of `items` left without one."""
    answered = {item.call_id for item in items if isinstance(item, Answered)}
    return [
        Answered(item.call_id, CANCELLED_OUTPUT, exchange_id or item.exchange_id)
        for item in items
        if isinstance(item, Called) and item.call_id not in answered
    ]


def tool_rounds(items: Iterable[HistoryItem]) -> list[Unit]:
    """`items` as units to send: messages, and rounds of consecutive calls each followed by
    its outputs (a call without an output gets a cancelled one; a stray output is dropped)."""
    listed = list(items)
    outputs = {item.call_id: item for item in listed if isinstance(item, Answered)}
    units: list[Unit] = []
    calls: list[Called] = []

    def close_round() -> None:
        if calls:
            answers = tuple(
                outputs.get(c.call_id) or Answered(c.call_id, CANCELLED_OUTPUT, c.exchange_id)
                for c in calls
            )
            units.append(ToolRound(tuple(calls), answers))
            calls.clear()

    seen: set[str] = set()
    answering = False  # an output of the open round came: the next call starts a new round
    for item in listed:
        if isinstance(item, Called):
            if item.call_id in seen:
                continue  # the same call twice (a replayed journal): once is enough
            if answering:
                close_round()
                answering = False
            seen.add(item.call_id)
            calls.append(item)
        elif isinstance(item, Said):
            close_round()
            answering = False
            units.append(item)
        else:  # outputs are placed with their calls, wherever they came in
            answering = answering or any(c.call_id == item.call_id for c in calls)
    close_round()
    return units
