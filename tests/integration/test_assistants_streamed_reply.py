"""The Assistants backend takes a streamed run's reply from the stream itself.

A run streamed whole, from its creation to ``completed``, delivered every message it wrote in
``thread.message.completed`` events: listing the thread's messages afterwards would be one
request more per exchange for nothing. Whenever a stream of the run broke, the reply is listed
as before, so a reply is never taken from a partial stream.
"""

from __future__ import annotations

import pytest

from emulator import CallTools, EmulatorServer, Fault, Reply, ToolSpec
from mediator.events import MessageRetrieved
from tests.integration.conftest import ChatFactory, scripted

pytestmark = pytest.mark.parametrize(("protocol", "delivery"), [("assistants", "stream")])

LIST_MESSAGES = r"/threads/[^/]+/messages"
RUN_STREAMS = r"/threads/[^/]+/runs(/[^/]+/submit_tool_outputs)?"


def _counter(emulator: EmulatorServer, method: str | None, path: str) -> Fault:
    """A fault that changes nothing and counts the matching requests."""
    return emulator.faults.add(Fault(method=method, path=path, status=None, times=None))


async def test_a_whole_stream_gives_the_reply_without_listing_messages(
    make_chat: ChatFactory, emulator: EmulatorServer
) -> None:
    user, rec = await make_chat(
        scripted(
            CallTools([ToolSpec("get_stock_price", {"symbol": "AAPL"})], delay=0.01),
            Reply("AAPL is up.", delay=0.01),
            Reply("Nothing to add.", delay=0.01),
        )
    )
    listings = _counter(emulator, "GET", LIST_MESSAGES)
    every = _counter(emulator, None, ".*")
    try:
        assert await user.ask("price of AAPL?") == "AAPL is up."
        assert await user.ask("anything else?") == "Nothing to add."
        assert emulator.faults.fired(listings) == 0
        # Per exchange: the message, the run's stream (and the outputs' stream): no listing.
        assert emulator.faults.fired(every) == 3 + 2
    finally:
        emulator.faults.clear()
    assert [e.text for e in rec.of(MessageRetrieved)] == ["AAPL is up.", "Nothing to add."]  # type: ignore[attr-defined]


async def test_a_broken_stream_has_the_reply_listed(
    make_chat: ChatFactory, emulator: EmulatorServer
) -> None:
    user, rec = await make_chat(
        scripted(
            CallTools([ToolSpec("get_stock_price", {"symbol": "MSFT"})], delay=0.05),
            Reply("MSFT looked up, after a break.", delay=0.05),
        )
    )
    listings = _counter(emulator, "GET", LIST_MESSAGES)
    # The tool outputs' stream breaks half-way: the rest of the run is polled.
    cut = emulator.faults.add(
        Fault(
            method="POST",
            path=r"/threads/[^/]+/runs/[^/]+/submit_tool_outputs",
            status=None,
            cut_after_chunks=2,
        )
    )
    try:
        assert await user.ask("price of MSFT?") == "MSFT looked up, after a break."
        assert emulator.faults.fired(cut) == 1
        assert emulator.faults.fired(listings) >= 1
    finally:
        emulator.faults.clear()
    assert [e.text for e in rec.of(MessageRetrieved)] == ["MSFT looked up, after a break."]  # type: ignore[attr-defined]
