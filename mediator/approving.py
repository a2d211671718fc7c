"""The approval steps of the interaction script, as a part of `Mediator`.

Between ``requires_action`` and ``tools_executed``: the calls that need a person's consent are
asked about (``approval_requested`` -> awaiting_approval, `ApprovalRequested` each) while the
others run at once; the exchange deadline stands still until every answer is in (`approve` /
`reject`, published as `ApprovalGiven` / `ApprovalRejected`) or the approval timeout rejects the
rest; then the approved calls run, and the round's outcome (`executed_trigger`) moves on. The
exchange can also be left for later (`suspend`) and resumed, here or in another process.

Kept apart from `mediator.base` because it is one concept; `Mediator` inherits it and provides
the common path (`_fire`, `_publish`, ...) declared abstract here.
"""

from __future__ import annotations

import asyncio
import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mediator.approvals import ApprovalDecision, ApprovalRequest, PendingApprovals
from mediator.errors import ExchangeSuspendedError, MediatorError
from mediator.events import ApprovalGiven, ApprovalRejected, ApprovalRequested, MediatorEvent
from mediator.participants import (
    ApprovingUserSide,
    AssistantSide,
    SuspendableAssistantSide,
    UserSide,
)
from mediator.script import Trigger
from tools.types import ToolCall, ToolResult

__all__ = ["ApprovalSteps", "executed_trigger"]


def executed_trigger(decisions: Iterable[ApprovalDecision] | None) -> Trigger:
    """``tools_executed``, or the outcome of the approval round the calls went through."""
    if decisions is None:
        return Trigger.TOOLS_EXECUTED
    answers = {decision.approved for decision in decisions}
    if answers == {True}:
        return Trigger.APPROVED
    if answers == {False}:
        return Trigger.REJECTED
    return Trigger.PARTIALLY_APPROVED


class ApprovalSteps(ABC):
    """Asking, waiting, answering and suspending; mixed into `Mediator`."""

    _approvals: PendingApprovals
    _running_free: asyncio.Future[Sequence[ToolResult]] | None
    """The calls of the round that need no approval, running while a person decides."""
    _publishing: bool
    _run_id: str | None

    @abstractmethod
    def _fire(self, trigger: Trigger) -> None: ...

    @abstractmethod
    def _common(self) -> dict[str, Any]: ...

    @abstractmethod
    def _publish(self, event: MediatorEvent) -> None: ...

    @abstractmethod
    def _refuse_reentry(self, what: str) -> None: ...

    @abstractmethod
    def _require_user(self) -> UserSide: ...

    @abstractmethod
    def _require_assistant(self) -> AssistantSide: ...

    async def _run_approved(
        self,
        user: ApprovingUserSide,
        calls: Sequence[ToolCall],
        requests: Sequence[ApprovalRequest],
    ) -> tuple[list[ToolResult], Mapping[str, ApprovalDecision]]:
        """Run `calls`: those not in `requests` at once, the others once decided."""
        gated = {request.call.id for request in requests}
        free = tuple(call for call in calls if call.id not in gated)
        running = asyncio.ensure_future(user.execute_tools(free)) if free else None
        self._running_free = running
        try:
            decisions = await self._decide(requests, user.approval_timeout_s)
            asked = tuple(request.call for request in requests)
            results = [*await user.execute_tools(asked, decisions)]
            if running is not None:
                results.extend(await running)
        finally:
            self._running_free = None
            if running is not None and not running.done():
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)
        return results, decisions

    async def _decide(
        self, requests: Sequence[ApprovalRequest], timeout_s: float
    ) -> Mapping[str, ApprovalDecision]:
        """Ask, then wait (deadline paused) for every answer; unanswered ones are rejected."""
        assistant = self._require_assistant()
        self.approval_requested(requests)
        paused = (
            assistant.deadline_paused()
            if isinstance(assistant, SuspendableAssistantSide)
            else contextlib.nullcontext()
        )
        try:
            with paused:
                unanswered = await self._approvals.wait(timeout_s)
            reason = f"nobody answered within the approval timeout of {timeout_s:g} s"
            for call_id in unanswered:
                self._answer(ApprovalDecision(call_id, False, who="timeout", reason=reason))
            return self._approvals.decisions()
        finally:
            self._approvals.close()

    def approval_requested(self, requests: Sequence[ApprovalRequest]) -> None:
        """Calls wait for a person: -> awaiting_approval, one `ApprovalRequested` each; an
        answer already known (`ApprovalRequest.decided`) is applied at once."""
        requests = tuple(requests)
        self._fire(Trigger.APPROVAL_REQUESTED)
        self._approvals.open(requests)
        for request in requests:
            self._publish(ApprovalRequested(**self._common(), call=request.call, why=request.why))
        for request in requests:
            if request.decided is not None:
                self._answer(request.decided)

    @property
    def pending_approvals(self) -> tuple[ApprovalRequest, ...]:
        """The tool calls waiting for a person's decision now, in the order asked."""
        return self._approvals.requests

    async def suspend(self) -> None:
        """Leave the exchange that waits for approval for later, as a restart would: its
        requests stay pending in the journal and its run waits on the server. The calls that
        needed no approval finish first (their outputs are journaled). The user side gets an
        `ExchangeSuspendedError`; `resume_conversation` (here or in another process) continues
        the exchange and asks again, or applies answers given to it beforehand.

        Raises `MediatorError` when nothing waits for approval.
        """
        self._refuse_reentry("suspend")
        assistant = self._require_assistant()
        if not self._approvals.requests:
            raise MediatorError("no tool call waits for approval: there is nothing to suspend")
        if not isinstance(assistant, SuspendableAssistantSide):
            raise MediatorError("the assistant side cannot leave an exchange for later")
        if self._running_free is not None:
            await asyncio.gather(asyncio.shield(self._running_free), return_exceptions=True)
        await assistant.detach()
        self._require_user().deliver_error(
            ExchangeSuspendedError(
                "the exchange waits for approval and was left for later: resume the "
                "conversation to answer",
                run_id=self._run_id,
            )
        )

    def approve(self, call_id: str, *, who: str = "user", reason: str | None = None) -> None:
        """`who` lets pending call `call_id` run: `ApprovalGiven`.

        Raises `ApprovalNotPendingError` if the call waits for no decision. Called from an
        event listener (say, a handler of `ApprovalRequested`), it takes effect right after
        the event is delivered.
        """
        self._decision(ApprovalDecision(call_id, True, who=who, reason=reason))

    def reject(self, call_id: str, *, who: str = "user", reason: str | None = None) -> None:
        """`who` refuses pending call `call_id`: `ApprovalRejected`; the model is told the
        user declined (with `reason`). Raises like `approve`."""
        self._decision(ApprovalDecision(call_id, False, who=who, reason=reason))

    def _decision(self, decision: ApprovalDecision) -> None:
        self._approvals.check(decision.call_id)
        if self._publishing:  # from a listener: after the event in hand, not in its middle
            asyncio.get_running_loop().call_soon(self._answer, decision)
        else:
            self._answer(decision)

    def _answer(self, decision: ApprovalDecision) -> None:
        request = next((r for r in self._approvals.requests if r.call.id == decision.call_id), None)
        if request is None or not self._approvals.answer(decision):
            return  # answered already (two surfaces raced), or the round ended
        kind = ApprovalGiven if decision.approved else ApprovalRejected
        common = {**self._common(), "at": decision.at}
        self._publish(kind(**common, call=request.call, who=decision.who, reason=decision.reason))
