"""A recorded conversation's transcript, as the chat page redraws it for `?conversation=ID`."""

from __future__ import annotations

import json
from pathlib import Path

from emulator import EmulatorServer
from persistence import HistoryStore, Recorder, make_engine
from tests.persistence.support import QUESTIONS, open_chat


async def test_transcript_has_each_exchange_with_its_tool_calls_and_reply(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/history.db")
    recorder = Recorder(engine, flush_interval_s=0.01).start()
    user = open_chat(emulator.base_url, protocol="responses", delivery="stream")
    try:
        replies = [await user.ask(question) for question in QUESTIONS]
    finally:
        await user.aclose()
        assert recorder.close()
    conversation_id = user.conversation_id
    assert conversation_id is not None

    transcript = HistoryStore(engine).transcript(conversation_id)

    assert transcript is not None
    assert transcript.assistant_id == "asst_demo_stock"
    assert [turn.prompt for turn in transcript.turns] == list(QUESTIONS)
    assert [turn.reply for turn in transcript.turns] == replies
    assert [turn.status for turn in transcript.turns] == ["completed"] * 3
    # Two rounds of parallel calls, then one call, then none: in the order they were requested.
    names = [[call.name for call in turn.calls] for turn in transcript.turns]
    assert names == [
        ["get_stock_price", "get_stock_price", "buy_or_sell", "buy_or_sell"],
        ["get_stock_price"],
        [],
    ]
    first_price = transcript.turns[0].calls[0]
    assert json.loads(first_price.arguments)["symbol"] in {"MSFT", "TSLA"}
    assert first_price.output is not None
    assert json.loads(first_price.output)["source"] == "simulated"
    assert all(call.call_id and not call.is_error for t in transcript.turns for call in t.calls)
    assert HistoryStore(engine).transcript("conv_never_recorded") is None
    engine.dispose()
