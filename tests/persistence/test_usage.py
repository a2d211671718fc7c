"""Issue 13: what each conversation costs, stored and summed.

A real offline conversation with tool calls (the real SDK over HTTP to the emulator, the
recorder into a real sqlite file): every run's tokens equal what the server reported for it
(the sum of its responses, or the Assistants run's usage), the conversation's total is the sum
of its runs, and the cost is the price table's figure for a known model, none for an unknown.
"""

from __future__ import annotations

from typing import Any

import pytest
from genai_prices import Usage as TableUsage
from genai_prices import calc_price

from conversation.catalog import MemoryCatalog
from conversation.demo import DEMO_ASSISTANT_ID, demo_definition
from conversation.settings import Settings
from conversation.wiring import wire_to_server
from emulator import EmulatorServer
from persistence import HistoryStore, Recorder, RunRow
from tests.persistence.support import FAST_POLICY

QUESTIONS = ("Should I buy MSFT and TSLA?", "What is the price of AAPL?")


async def _converse(emulator: EmulatorServer, protocol: str, delivery: str, model: str) -> str:
    settings = Settings.model_validate({"RECORD_EVENTS": False, "PRICE_PROVIDER": "openai"})
    user = wire_to_server(
        emulator.base_url,
        protocol=protocol,
        delivery=delivery,
        catalog=MemoryCatalog({DEMO_ASSISTANT_ID: demo_definition(model)}),
        policy=FAST_POLICY,
        settings=settings,
        strict=True,
    )
    try:
        for question in QUESTIONS:
            assert await user.ask(question)
        assert user.conversation_id is not None
        return user.conversation_id
    finally:
        await user.aclose()


def _server_usage(emulator: EmulatorServer, conversation_id: str) -> list[tuple[int, int]]:
    """(input, output) tokens per exchange, as the server reported them, in order."""
    state: Any = emulator._state
    if conversation_id.startswith("thread_"):
        runs = state.store.runs[conversation_id].values()
        return [(r["usage"]["prompt_tokens"], r["usage"]["completion_tokens"]) for r in runs]
    exchanges: list[tuple[int, int]] = []
    for response_id, response in state.responses_store.responses.items():
        if (response["conversation"] or {}).get("id") != conversation_id:
            continue
        usage = response["usage"]
        inputs = state.responses_store.books[response_id].input
        if any(item.get("role") == "user" for item in inputs):  # a new exchange begins
            exchanges.append((0, 0))
        before = exchanges[-1]
        exchanges[-1] = (before[0] + usage["input_tokens"], before[1] + usage["output_tokens"])
    return exchanges


def _table_cost(run: RunRow, model: str) -> float:
    usage = TableUsage(
        input_tokens=run.prompt_tokens,
        cache_read_tokens=run.cached_input_tokens,
        output_tokens=run.completion_tokens,
    )
    return float(calc_price(usage, model, provider_id="openai").total_price)


@pytest.mark.parametrize(
    ("protocol", "delivery", "model"),
    [("responses", "stream", "gpt-4o-mini"), ("assistants", "poll", "offline-demo")],
)
async def test_runs_store_the_servers_usage_and_the_conversation_sums_its_runs(
    emulator: EmulatorServer, sqlite_url: str, protocol: str, delivery: str, model: str
) -> None:
    recorder = Recorder(sqlite_url).start()
    try:
        conversation_id = await _converse(emulator, protocol, delivery, model)
    finally:
        assert recorder.close(timeout_s=30)
    store = HistoryStore(sqlite_url)
    try:
        runs = store.list_runs(conversation_id).items
        (listed,) = store.list_conversations().items
        totals = store.usage_totals(conversation_id=conversation_id)
    finally:
        store.close()

    assert [(r.prompt_tokens, r.completion_tokens) for r in runs] == _server_usage(
        emulator, conversation_id
    )
    for run in runs:
        assert run.prompt_tokens, run
        assert run.completion_tokens, run
        assert run.total_tokens == run.prompt_tokens + run.completion_tokens
        assert run.tool_call_count > 0
    assert totals.runs == len(runs) == len(QUESTIONS)
    assert totals.input_tokens == sum(r.prompt_tokens or 0 for r in runs)
    assert totals.output_tokens == sum(r.completion_tokens or 0 for r in runs)
    assert listed.total_tokens == totals.total_tokens

    if model == "offline-demo":  # the emulator's own model: no price known, never a guess
        assert [r.cost_usd for r in runs] == [None, None]
        assert (listed.cost_usd, totals.cost_usd, totals.unpriced_runs) == (None, None, 2)
        return
    assert protocol == "responses"  # the Assistants emulator names its model itself
    for run in runs:
        assert run.model == model
        assert run.cost_usd == pytest.approx(_table_cost(run, model), rel=1e-9)
    assert totals.cost_usd == pytest.approx(sum(r.cost_usd or 0 for r in runs), rel=1e-9)
    assert listed.cost_usd == pytest.approx(totals.cost_usd, rel=1e-9)
    assert totals.unpriced_runs == 0
