"""Property test: any sequence of run statuses a backend may report ends the exchange cleanly,
and both mediators walk through the same states.

The backend is faked at its seam (`proxies.backends.scripted.ScriptedBackend`, the fake the
toolkit ships) so that hypothesis can try thousands of status sequences quickly; everything
above it is the real code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mediator import create_mediator
from mediator.errors import ExchangeCancelledError, ExchangeError, ExchangeFailedError
from mediator.events import MediatorEvent, StateChanged, ToolExecuted
from proxies.assistant_proxy import AssistantProxy
from proxies.backends.base import RunStatus
from proxies.backends.scripted import ScriptedBackend
from proxies.policy import ExchangePolicy
from proxies.user_proxy import UserProxy
from tools import demo_registry


@pytest.fixture(scope="module", autouse=True)
def _simulated_quotes() -> Iterator[None]:
    # Module scope: hypothesis re-runs the test body without function-scoped fixtures.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QUOTE_SOURCE", "simulated")
        yield


POLICY = ExchangePolicy(deadline_s=5.0, poll_initial_s=0.001, poll_max_s=0.001)
ACTIVE = [RunStatus.QUEUED, RunStatus.IN_PROGRESS, RunStatus.REQUIRES_ACTION]
TERMINAL = [
    RunStatus.COMPLETED,
    RunStatus.FAILED,
    RunStatus.EXPIRED,
    RunStatus.INCOMPLETE,
    RunStatus.CANCELLED,
]


async def _exchange(kind: str, statuses: Sequence[RunStatus]) -> tuple[list[str], object, int]:
    from mediator.bus import subscribe

    backend = ScriptedBackend(statuses)
    mediator = create_mediator(kind)
    user = UserProxy(mediator, demo_registry(), policy=POLICY)
    assistant = AssistantProxy(backend, "asst_1", mediator, policy=POLICY)
    mediator.attach(user, assistant)
    events: list[MediatorEvent] = []
    with subscribe(events.append, conversation_id=None) as _:
        outcome: object
        try:
            outcome = await user.ask("go")
        except ExchangeError as exc:
            outcome = exc
    mine = [e for e in events if e.session_id == mediator.session_id]
    states = [str(e.state) for e in mine if isinstance(e, StateChanged)]
    tools_run = sum(isinstance(e, ToolExecuted) for e in mine)
    return states, outcome, tools_run


@settings(max_examples=150, deadline=None)
@given(
    middle=st.lists(st.sampled_from(ACTIVE), max_size=8),
    end=st.sampled_from(TERMINAL),
)
def test_any_status_sequence_ends_cleanly_and_both_mediators_agree(
    middle: list[RunStatus], end: RunStatus
) -> None:
    statuses = [*middle, end]
    basic = asyncio.run(_exchange("basic", statuses))
    machine = asyncio.run(_exchange("stateMachine", statuses))
    assert basic[0] == machine[0], "the two mediators walked different states"
    states, outcome, tools_run = machine
    assert tools_run == statuses.count(RunStatus.REQUIRES_ACTION)
    if end is RunStatus.COMPLETED:
        assert outcome == "scripted reply"
        assert states[-1] == "completed"
    elif end is RunStatus.CANCELLED:
        assert isinstance(outcome, ExchangeCancelledError)
        assert states[-1] == "cancelled"
    else:
        assert isinstance(outcome, ExchangeFailedError)
        assert outcome.status == end.value
        assert states[-1] == "failed"
    assert states[0] == "ready"
