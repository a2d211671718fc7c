"""Issue 12 and time: the deadline stands still while a person decides, nobody answering is a
clear refusal, and an Assistants run that expires on the server meanwhile is a clear error.

Real SDK over HTTP to the emulator; a person is played by an event handler that answers when
the test says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace

import pytest

from conversation.api import resume_conversation
from conversation.settings import Settings
from conversation.wiring import wire_to_server
from emulator import CallTools, EmulatorServer, Reply, ScriptedModel, ToolSpec
from mediator.errors import ExchangeFailedError, ExchangeSuspendedError, MediatorError
from mediator.events import ApprovalRejected, ApprovalRequested, MediatorEvent, ToolExecuted
from proxies.user_proxy import ConversationBusyError
from tests.integration.conftest import FAST_POLICY, Recorder

WAIT_S = 60.0
PRICE = ToolSpec("get_stock_price", {"symbol": "MSFT"})
ADVICE = ToolSpec("buy_or_sell", {"symbol": "MSFT", "price": 404.0})


def approve_advice() -> Settings:
    """Settings read now (the suite points DATABASE_URL at its own file when it starts)."""
    return Settings(APPROVE_TOOLS="buy_or_sell")


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer(poll_after_ms=10, queue_delay=0.0) as server:
        asyncio.run(_warm_up(server))  # first requests pay one-time costs: not in a deadline
        yield server


async def _warm_up(server: EmulatorServer) -> None:
    server.model = ScriptedModel([CallTools([ADVICE]), Reply("warm")])
    user = wire_to_server(server.base_url)
    try:
        await user.ask("warm up")
    finally:
        await user.aclose()


@pytest.fixture(autouse=True)
def _simulated_quotes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUOTE_SOURCE", "simulated")


class Person:
    """Answers approval requests when told to (`answer`), not before."""

    def __init__(self) -> None:
        self.asked: asyncio.Queue[ApprovalRequested] = asyncio.Queue()

    def __call__(self, event: MediatorEvent) -> None:
        if isinstance(event, ApprovalRequested):
            self.asked.put_nowait(event)

    async def request(self) -> ApprovalRequested:
        return await asyncio.wait_for(self.asked.get(), WAIT_S)


async def test_the_exchange_deadline_does_not_run_while_a_person_decides(
    emulator: EmulatorServer,
) -> None:
    emulator.model = ScriptedModel([CallTools([ADVICE]), Reply("done")])
    deadline_s = 1.5
    policy = replace(FAST_POLICY, deadline_s=deadline_s)
    user = wire_to_server(emulator.base_url, policy=policy, settings=approve_advice())
    person = Person()
    loop = asyncio.get_running_loop()
    try:
        with user.on_event(person):
            sent = loop.time()
            user.send_user_message("go")
            request = await person.request()
            # Answer once the whole exchange's time is spent: only the pause lets it finish.
            await asyncio.sleep(sent + deadline_s + 0.2 - loop.time())
            user.approve(request.call.id)
            assert await asyncio.wait_for(user.get_assistant_message(), WAIT_S) == "done"
    finally:
        await user.aclose()


async def test_nobody_answering_in_time_rejects_and_the_run_completes(
    emulator: EmulatorServer,
) -> None:
    emulator.model = ScriptedModel([CallTools([ADVICE]), Reply("understood")])
    policy = replace(FAST_POLICY, approval_timeout_s=0.2)  # the timeout is what is tested
    user = wire_to_server(
        emulator.base_url, protocol="assistants", policy=policy, settings=approve_advice()
    )
    recorder = Recorder()
    try:
        with user.on_event(recorder):
            assert await asyncio.wait_for(user.ask("go"), WAIT_S) == "understood"
    finally:
        await user.aclose()
    rejected = next(e for e in recorder.events if isinstance(e, ApprovalRejected))
    assert rejected.reason == "nobody answered within the approval timeout of 0.2 s"
    executed = next(e for e in recorder.events if isinstance(e, ToolExecuted))
    assert executed.result.error_type == "declined_by_user"
    assert "Nobody approved this call to buy_or_sell in time" in executed.result.output


@pytest.mark.parametrize("delivery", ["poll", "stream"])
async def test_an_assistants_run_expiring_while_waiting_ends_with_a_clear_error(
    delivery: str,
) -> None:
    with EmulatorServer(poll_after_ms=10, queue_delay=0.0, run_ttl=1.0) as server:
        server.model = ScriptedModel([CallTools([ADVICE]), Reply("never")])
        user = wire_to_server(
            server.base_url,
            protocol="assistants",
            delivery=delivery,
            policy=FAST_POLICY,
            settings=approve_advice(),
        )
        person = Person()
        try:
            with user.on_event(person):
                user.send_user_message("go")
                request = await person.request()
                thread = user.conversation_id
                assert thread is not None
                async with asyncio.timeout(WAIT_S):  # until the server gave up on the run
                    while server.holdings(thread).active:  # noqa: ASYNC110 (server state)
                        await asyncio.sleep(0.02)
                user.approve(request.call.id)
                with pytest.raises(ExchangeFailedError) as failed:
                    await asyncio.wait_for(user.get_assistant_message(), WAIT_S)
        finally:
            await user.aclose()
    assert failed.value.code == "run_expired"
    assert failed.value.status == "expired"
    assert "expired on the server before the tool outputs were sent" in str(failed.value)


async def test_an_exchange_left_for_later_is_answered_after_resume_conversation(
    emulator: EmulatorServer,
) -> None:
    emulator.model = ScriptedModel([CallTools([PRICE, ADVICE]), Reply("as you wish")])
    user = wire_to_server(emulator.base_url, policy=FAST_POLICY, settings=approve_advice())
    person = Person()
    try:
        with user.on_event(person):
            user.send_user_message("go")
            request = await person.request()
            await user.suspend()
            with pytest.raises(ExchangeSuspendedError, match="left for later"):
                await asyncio.wait_for(user.get_assistant_message(), WAIT_S)
        thread = user.conversation_id
        assert thread is not None
        with pytest.raises(MediatorError, match="nothing to suspend"):
            await user.suspend()
        with pytest.raises(ConversationBusyError, match="resume_conversation"):
            user.send_user_message("and now?")
    finally:
        await user.aclose()
    # Nothing was settled: the run still waits for both outputs on the server.
    assert emulator.holdings(thread).function_calls == 2
    assert emulator.holdings(thread).tool_outputs == 0

    settings = Settings(
        OPENAI_API_KEY="not-a-secret",
        OPENAI_BASE_URL=emulator.base_url,
        APPROVE_TOOLS="buy_or_sell",
    )
    later = resume_conversation(thread, settings=settings, policy=FAST_POLICY)
    recorder = Recorder()
    try:
        assert [r.call.id for r in later.pending_approvals] == [request.call.id]
        later.reject(request.call.id, "changed my mind")  # before it is asked again
        assert later.pending_approvals == ()
        with later.on_event(recorder):
            assert await asyncio.wait_for(later.get_assistant_message(), WAIT_S) == "as you wish"
    finally:
        await later.aclose()
    executed = {e.call.name: e.result for e in recorder.events if isinstance(e, ToolExecuted)}
    assert executed["get_stock_price"].is_error is False  # ran before the suspension, once
    assert "declined this call to buy_or_sell: changed my mind" in executed["buy_or_sell"].output
    assert emulator.holdings(thread).tool_outputs == 2
