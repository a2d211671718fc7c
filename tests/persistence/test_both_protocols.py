"""The history shows a conversation the same way whichever protocol carried it: the same
scripted exchange over the Assistants and the Responses protocols is stored as the same
rows (runs, messages, tool calls) and the same event sequence, and the history queries
present both alike."""

from __future__ import annotations

from emulator import CallTools, EmulatorServer, Reply, ScriptedModel, ToolSpec
from persistence import HistoryStore, Recorder
from tests.persistence.support import open_chat


def _folded(types_and_states: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Repeats of one event in one state folded: status checks and text deltas come in
    numbers that depend on timing and chunking, not on the conversation."""
    out: list[tuple[str, str]] = []
    for item in types_and_states:
        if not out or out[-1] != item:
            out.append(item)
    return out


async def _hold(emulator: EmulatorServer, protocol: str) -> str:
    emulator.model = ScriptedModel(
        [
            CallTools([ToolSpec("get_stock_price", {"symbol": "AAPL"})], delay=0.1),
            Reply("AAPL is up.", delay=0.1),
        ]
    )
    user = open_chat(emulator.base_url, protocol=protocol, delivery="stream")
    try:
        assert await user.ask("price of AAPL") == "AAPL is up."
        assert user.conversation_id is not None
        return user.conversation_id
    finally:
        await user.aclose()


async def test_both_protocols_are_recorded_and_listed_alike(
    emulator: EmulatorServer, sqlite_url: str
) -> None:
    recorder = Recorder(sqlite_url).start()
    try:
        ids = {p: await _hold(emulator, p) for p in ("assistants", "responses")}
    finally:
        assert recorder.close(timeout_s=10)
    store = HistoryStore(sqlite_url)
    views = {}
    for protocol, conversation_id in ids.items():
        (run,) = store.list_runs(conversation_id).items
        events = store.list_run_events(run.id).items
        messages = store.list_messages(conversation_id).items
        views[protocol] = (
            run.status,
            run.tool_call_count,
            [(m.role, m.text) for m in messages],
            # Usage is reported per response (Responses) or per run (Assistants): when differs
            # by protocol (tests/persistence/test_usage.py checks what it adds up to).
            _folded([(e.type, e.state) for e in events if e.type != "UsageReported"]),
        )
    store.close()
    assert views["assistants"] == views["responses"]
    status, tool_calls, messages, _ = views["responses"]
    assert (status, tool_calls) == ("completed", 1)
    assert messages == [("user", "price of AAPL"), ("assistant", "AAPL is up.")]
