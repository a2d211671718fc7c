"""Approval of tool calls: what is asked of a person, what they answered, and the wait.

A tool call that needs approval (`@function_tool(needs_approval=...)`, or listed in
``APPROVE_TOOLS``) is not run until someone decides. The User Proxy says which calls need it
(`ApprovalRequest`, with why); the Mediator asks (`ApprovalRequested`), collects the answers
(`ApprovalDecision`, published as `ApprovalGiven` / `ApprovalRejected`) in `PendingApprovals`,
and hands them back to the User Proxy, which runs the approved calls and answers each rejected
one with `refusal` (an error output telling the model the user declined, with the reason).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mediator.errors import ApprovalNotPendingError
from tools.errors import DECLINED_BY_USER
from tools.types import ToolCall, ToolResult

__all__ = [
    "DECLINED",
    "ApprovalDecision",
    "ApprovalRequest",
    "PendingApprovals",
    "refusal",
]

DECLINED = DECLINED_BY_USER
"""The `error_type` of a rejected call's output."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ApprovalDecision:
    """What was answered for one call: `approved` or not, by `who`, when, and why (optional)."""

    call_id: str
    approved: bool
    who: str = "user"
    reason: str | None = None
    at: datetime = field(default_factory=_utcnow)


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """One call waiting for a person, and `why` it needs one.

    `decided` is an answer already known when the request is made (given before the request
    reached this process, e.g. right after a restart): it is applied at once.
    """

    call: ToolCall
    why: str
    decided: ApprovalDecision | None = None


def refusal(call: ToolCall, decision: ApprovalDecision) -> ToolResult:
    """The output a rejected call returns to the model: it was not run, who refused, why."""
    if decision.who == "timeout":
        message = (
            f"Nobody approved this call to {call.name} in time ({decision.reason}), so it was "
            "not run. Tell the user it was not done."
        )
    else:
        why = f": {decision.reason}" if decision.reason else ""
        message = (
            f"The user declined this call to {call.name}{why}. It was not run. Do not try it "
            "again; tell the user it was not done."
        )
    error = {"type": DECLINED, "message": message, "who": decision.who, "reason": decision.reason}
    return ToolResult(
        call.id,
        call.name,
        json.dumps({"error": error}),
        is_error=True,
        error_type=DECLINED,
    )


class PendingApprovals:
    """The requests of one round waiting for answers; each answer resolves one future."""

    def __init__(self) -> None:
        self._requests: dict[str, ApprovalRequest] = {}
        self._answers: dict[str, asyncio.Future[ApprovalDecision]] = {}

    @property
    def requests(self) -> tuple[ApprovalRequest, ...]:
        """The requests still waiting for an answer, in the order they were asked."""
        return tuple(r for r in self._requests.values() if not self._answers[r.call.id].done())

    def open(self, requests: Iterable[ApprovalRequest]) -> None:
        """Start a round (any earlier one is forgotten)."""
        loop = asyncio.get_running_loop()
        self._requests = {r.call.id: r for r in requests}
        self._answers = {call_id: loop.create_future() for call_id in self._requests}

    def is_waiting(self, call_id: str) -> bool:
        answer = self._answers.get(call_id)
        return answer is not None and not answer.done()

    def check(self, call_id: str) -> None:
        """Raise `ApprovalNotPendingError` unless `call_id` waits for an answer."""
        if not self.is_waiting(call_id):
            waiting = ", ".join(self._waiting_ids()) or "none"
            raise ApprovalNotPendingError(
                f"no approval is pending for tool call {call_id!r} (pending: {waiting})"
            )

    def answer(self, decision: ApprovalDecision) -> bool:
        """Record `decision`; False if its call no longer waits (answered, or round over)."""
        if not self.is_waiting(decision.call_id):
            return False
        self._answers[decision.call_id].set_result(decision)
        return True

    async def wait(self, timeout_s: float) -> tuple[str, ...]:
        """Wait up to `timeout_s` for every answer; the ids still unanswered then."""
        waiting = [answer for answer in self._answers.values() if not answer.done()]
        if waiting:
            await asyncio.wait(waiting, timeout=timeout_s)
        return tuple(self._waiting_ids())

    def decisions(self) -> dict[str, ApprovalDecision]:
        """The answers given so far, by call id."""
        return {
            call_id: answer.result()
            for call_id, answer in self._answers.items()
            if answer.done() and not answer.cancelled()
        }

    def close(self) -> None:
        """End the round: nothing waits any more (unanswered futures are dropped)."""
        for answer in self._answers.values():
            if not answer.done():
                answer.cancel()
        self._requests, self._answers = {}, {}

    def _waiting_ids(self) -> list[str]:
        return [call_id for call_id in self._answers if self.is_waiting(call_id)]
