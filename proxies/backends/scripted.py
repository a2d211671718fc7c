"""`ScriptedBackend`: a `Backend` that plays a script of run statuses, no server needed.

The seam's own fake, shipped with the code (as httpx ships `MockTransport`): mediator and
proxy tests, and your own, drive the real User Proxy, Mediator and Assistant Proxy with it.
`emulator/` is the fake behind real HTTP; this one sits one layer higher and is instant.

    backend = ScriptedBackend([RunStatus.IN_PROGRESS, RunStatus.REQUIRES_ACTION,
                               RunStatus.COMPLETED], reply="AAPL is at 190.")

A run starts ``queued``; each status check takes the next status off the script. A
``requires_action`` status asks for one `get_stock_price` call (or `tool_calls`); submitting
outputs records them and queues the run again. Everything the proxy did is kept for asserts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from proxies.backends.base import (
    AssistantDefinition,
    Backend,
    RunError,
    RunSnapshot,
    RunStatus,
    RunStepInfo,
)
from proxies.errors import BackendError
from tools.types import ToolCall, ToolResult

__all__ = ["ScriptedBackend"]

_FAILING = (RunStatus.FAILED, RunStatus.EXPIRED, RunStatus.INCOMPLETE)


def _default_calls(round_: int) -> tuple[ToolCall, ...]:
    return (ToolCall(id=f"call_{round_}", name="get_stock_price", arguments='{"symbol": "AAPL"}'),)


@dataclass
class ScriptedBackend(Backend):
    """Plays `statuses`, one per status check; see the module docstring."""

    statuses: Sequence[RunStatus]
    reply: str = "scripted reply"
    #: The function calls each `requires_action` asks for, given how many rounds came before.
    tool_calls: Callable[[int], tuple[ToolCall, ...]] = _default_calls
    #: Raised by the next status check instead of a status (one per entry, in order).
    poll_errors: list[BackendError] = field(default_factory=list)
    run_id: str = "run_1"
    thread_id: str = "thread_1"
    submitted: list[tuple[ToolResult, ...]] = field(default_factory=list, init=False)
    started: list[tuple[str, str | None]] = field(default_factory=list, init=False)
    cancelled: int = field(default=0, init=False)
    name: str = "scripted"

    def __post_init__(self) -> None:
        self._script = list(self.statuses)

    def _snapshot(self, status: RunStatus) -> RunSnapshot:
        calls = self.tool_calls(len(self.submitted)) if status is RunStatus.REQUIRES_ACTION else ()
        error = None
        if status in _FAILING:
            error = RunError(code="server_error", message=f"scripted {status.value}")
        return RunSnapshot(self.run_id, self.thread_id, status, tool_calls=calls, error=error)

    async def create_assistant(self, definition: AssistantDefinition) -> str:
        return "asst_scripted"

    async def create_thread(self) -> str:
        return self.thread_id

    async def start_run(
        self,
        thread_id: str,
        assistant_id: str,
        text: str,
        *,
        exchange_id: str | None = None,
        recovering: bool = False,
    ) -> RunSnapshot:
        self.started.append((text, exchange_id))
        return self._snapshot(RunStatus.QUEUED)

    async def get_run(self, thread_id: str, run_id: str) -> RunSnapshot:
        if self.poll_errors:
            raise self.poll_errors.pop(0)
        if not self._script:
            raise AssertionError("the script ran out of statuses: the proxy polled too often")
        return self._snapshot(self._script.pop(0))

    async def submit_tool_outputs(
        self, thread_id: str, run_id: str, results: Sequence[ToolResult]
    ) -> RunSnapshot:
        self.submitted.append(tuple(results))
        return self._snapshot(RunStatus.QUEUED)

    async def cancel_run(self, thread_id: str, run_id: str) -> RunSnapshot:
        self.cancelled += 1
        return self._snapshot(RunStatus.CANCELLED)

    async def settle_run(self, thread_id: str, run_id: str) -> bool:
        self.cancelled += 1  # the script's statuses are for the exchange, not for settling
        return True

    async def get_reply(self, thread_id: str, run_id: str) -> str:
        return self.reply

    async def list_steps(self, thread_id: str, run_id: str) -> list[RunStepInfo]:
        return [
            RunStepInfo(f"step_{i}", "tool_calls", "completed", repr(outputs))
            for i, outputs in enumerate(self.submitted)
        ]

    async def aclose(self) -> None:
        return None
