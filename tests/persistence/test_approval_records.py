"""Approvals kept: the journal (memory and database) knows what is pending and what was
answered; the recorder stores the approval events; the run timeline shows each wait."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from mediator.approvals import ApprovalDecision, ApprovalRequest
from mediator.basic import MediatorBasic
from mediator.bus import subscribe
from mediator.events import ApprovalRequested, MediatorEvent
from mediator.journal import Journal, MemoryJournal
from persistence import DatabaseJournal, HistoryStore, Recorder, make_engine
from tests.persistence.support import _QuietAssistant, drive_exchange
from tools.types import ToolCall, ToolResult

CALLS = (
    ToolCall("call_a", "buy_or_sell", '{"symbol": "MSFT", "price": 404.0}'),
    ToolCall("call_b", "buy_or_sell", '{"symbol": "TSLA", "price": 250.0}'),
)


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["memory", "database"])
def journal(request: pytest.FixtureRequest, engine: Engine) -> Journal:
    return MemoryJournal() if request.param == "memory" else DatabaseJournal(engine)


def test_the_journal_knows_pending_and_answered_approvals(journal: Journal) -> None:
    journal.exchange_started("conv_1", "ex_1", "asst_1", "Should I buy MSFT and TSLA?")
    journal.approvals_requested("ex_1", [ApprovalRequest(c, "orders need a person") for c in CALLS])
    pending = journal.last_exchange("conv_1")
    assert pending is not None
    assert [(a.call_id, a.why, a.approved) for a in pending.pending_approvals] == [
        ("call_a", "orders need a person", None),
        ("call_b", "orders need a person", None),
    ]
    assert pending.pending_approvals[0].call == CALLS[0]

    journal.approvals_decided(
        "ex_1",
        [
            ApprovalDecision("call_a", True, who="alice"),
            ApprovalDecision("call_b", False, who="alice", reason="too risky"),
        ],
    )
    journal.calls_started("ex_1", CALLS[:1])
    journal.calls_finished("ex_1", [ToolResult("call_a", "buy_or_sell", "{}")])
    answered = journal.exchange("ex_1")
    assert answered is not None
    assert answered.pending_approvals == ()
    assert [(a.call_id, a.approved, a.who, a.reason) for a in answered.approvals] == [
        ("call_a", True, "alice", None),
        ("call_b", False, "alice", "too risky"),
    ]


class _ApprovingUser:
    """A user side that asks about every call and runs none for real."""

    approval_timeout_s = 30.0

    async def approvals_needed(self, calls: list[ToolCall]) -> list[ApprovalRequest]:
        return [ApprovalRequest(c, "the test asks") for c in calls]

    async def execute_tools(
        self, calls: list[ToolCall], decisions: object = None
    ) -> list[ToolResult]:
        return [ToolResult(c.id, c.name, '{"price": 1.0}') for c in calls]

    def deliver_reply(self, text: str) -> None: ...

    def deliver_error(self, error: object) -> None: ...


async def test_approval_events_are_recorded_and_the_timeline_shows_each_wait(
    engine: Engine,
) -> None:
    mediator = MediatorBasic()
    mediator.attach(_ApprovingUser(), _QuietAssistant())  # type: ignore[arg-type]

    def answer(event: MediatorEvent) -> None:  # a person, answering at once
        if isinstance(event, ApprovalRequested):
            mediator.approve(event.call.id, who="alice", reason="fine")

    recorder = Recorder(engine, flush_interval_s=0.0).start()
    try:
        with subscribe(answer, topics=(ApprovalRequested.topic,)):
            await asyncio.wait_for(
                drive_exchange(mediator, conversation_id="conv_t", run_id="run_t"), 30
            )
    finally:
        assert recorder.close(timeout_s=30)
    store = HistoryStore(engine)
    events = store.list_run_events("run_t", limit=50).items
    approvals = [(e.type, e.tool_name, e.output) for e in events if e.type.startswith("Approval")]
    assert approvals == [
        ("ApprovalRequested", "get_stock_price", "the test asks"),
        ("ApprovalGiven", "get_stock_price", "approved by alice: fine"),
    ]
    line = store.run_timeline("run_t")
    assert [s.state for s in line.states][3:6] == [
        "requires_action",
        "awaiting_approval",
        "tools_executed",
    ]
    (wait,) = line.approvals
    assert (wait.name, wait.approved, wait.outcome) == (
        "get_stock_price",
        True,
        "approved by alice: fine",
    )
    assert wait.end is not None
    assert wait.start <= wait.end
