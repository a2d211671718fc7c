"""The Mediator: owns the interaction script, routes between the proxies, publishes events.

A concrete mediator only decides how a trigger moves the state (`_apply`); everything else
lives here, so both mediators publish exactly the same events in exactly the same order.

Each trigger method does, in this order:

1. check that the participant it will call is attached (`MediatorError` otherwise, state kept);
2. apply the transition (`_apply`; `MediatorStateMachine` may raise `InvalidTransitionError`,
   and then nothing else happens);
3. publish `StateChanged`, unless the state stayed the same (a ``heartbeat`` while running:
   no state changed, so no `StateChanged`; the `RunStatusChecked` still records the poll);
4. publish the trigger's own event(s);
5. call the other participant, if the trigger routes something.

``action_required`` runs steps 2-4 for ``action_required``, awaits the user side's tools, then
runs them again for ``tools_executed`` (`ToolExecuted` once per call, in call order). When some
calls need a person's approval, the others start at once, ``approval_requested`` moves to
``awaiting_approval`` (`ApprovalRequested` per call) and the exchange deadline stops until
every answer is in (`approve` / `reject`, each published as `ApprovalGiven` /
`ApprovalRejected`) or the approval timeout rejects the rest; the approved calls then run and
``approved``, ``rejected`` or ``partially_approved`` moves on to ``tools_executed``.

The Assistant Proxy calls ``heartbeat(status)`` once per poll that finds the run still active
(``queued``, ``in_progress``); every other poll outcome maps to its own trigger, whose event
carries the data. Triggers must not be fired from event listeners (the mediator refuses: the
event order would interleave).
"""

from __future__ import annotations

import logging
import uuid
from abc import abstractmethod
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Any, ClassVar, Final

from mediator import bus
from mediator.approvals import ApprovalDecision, ApprovalRequest, PendingApprovals
from mediator.approving import ApprovalSteps, executed_trigger
from mediator.errors import (
    ExchangeCancelledError,
    ExchangeError,
    MediatorError,
)
from mediator.events import (
    ActionRequired,
    ConversationBound,
    ExchangeCancelled,
    ExchangeFailed,
    MediatorEvent,
    MessageDelta,
    MessageRetrieved,
    MessageSent,
    Reconciled,
    RunStarted,
    RunStatusChecked,
    StateChanged,
    ToolExecuted,
    ToolOutputsSubmitted,
    UsageReported,
)
from mediator.participants import ApprovingUserSide, AssistantSide, UserSide
from mediator.script import State, Trigger
from mediator.usage import Usage
from tools.types import ToolCall, ToolResult

__all__ = ["Mediator"]

_logger = logging.getLogger(__name__)


class _Keep(Enum):
    RUN_ID = "keep the run id"


_KEEP: Final = _Keep.RUN_ID

RESUMED_SEQ: Final = 1_000_000
"""Where a resumed exchange's events are numbered from: after the earlier process's."""


def _pair(
    calls: Sequence[ToolCall], results: Sequence[ToolResult]
) -> tuple[tuple[ToolCall, ToolResult], ...]:
    """Match each call with its result by call id, in call order; exactly one result per call."""
    by_id: dict[str, ToolResult] = {}
    for result in results:
        if result.call_id in by_id:
            raise ValueError(f"two results for tool call {result.call_id!r}")
        by_id[result.call_id] = result
    call_ids = [call.id for call in calls]
    if len(set(call_ids)) != len(call_ids):
        raise ValueError(f"duplicate tool call ids in {call_ids}")
    missing = [i for i in call_ids if i not in by_id]
    unexpected = sorted(by_id.keys() - set(call_ids))
    if missing or unexpected:
        raise ValueError(
            f"tool results do not match the calls: missing {missing}, unexpected {unexpected}"
        )
    return tuple((call, by_id[call.id]) for call in calls)


class Mediator(ApprovalSteps):
    """Goes between the User Proxy and the Assistant Proxy, following the interaction script.

    Subclasses implement `state` and `_apply`. Not thread-safe: drive one mediator from one
    event loop (events may be consumed anywhere).
    """

    kind: ClassVar[str]
    """The `MEDIATOR_TYPE` value that selects this class."""

    def __init__(self, *, conversation_id: str | None = None) -> None:
        # A local id, known before the remote conversation exists, so that every event of
        # this conversation (the first message included) can be told apart from others.
        self._session_id = uuid.uuid4().hex
        self._conversation_id = conversation_id
        self._run_id: str | None = None
        self._exchange_id: str | None = None
        self._seq = 0
        self._user: UserSide | None = None
        self._assistant: AssistantSide | None = None
        self._publishing = False
        self._approvals = PendingApprovals()
        self._running_free = None

    # -- what subclasses provide ------------------------------------------------------------

    @property
    @abstractmethod
    def state(self) -> State:
        """The current state."""

    @abstractmethod
    def _apply(self, trigger: Trigger) -> None:
        """Move to the state `trigger` leads to, or raise `InvalidTransitionError` unchanged."""

    # -- identity and wiring ----------------------------------------------------------------

    @property
    def run_id(self) -> str | None:
        """The current run (exchange) id; None until `started`, reset by `set_user_message`."""
        return self._run_id

    @property
    def exchange_id(self) -> str | None:
        """The current exchange's id: minted by `set_user_message`, on every event after it."""
        return self._exchange_id

    @property
    def session_id(self) -> str:
        """This mediator's local id: on every event it publishes, from the first one on."""
        return self._session_id

    @property
    def conversation_id(self) -> str | None:
        """The conversation (thread) id every event carries; see `bind_conversation`."""
        return self._conversation_id

    def bind_conversation(self, conversation_id: str) -> None:
        """Set the conversation id once the thread exists. Rebinding to another id is an error."""
        if not conversation_id:
            raise ValueError("conversation_id must be a non-empty string")
        if self._conversation_id not in (None, conversation_id):
            raise MediatorError(
                f"mediator is bound to conversation {self._conversation_id!r}, "
                f"cannot rebind to {conversation_id!r}"
            )
        self._conversation_id = conversation_id

    def conversation_bound(self, conversation_id: str, *, assistant_id: str, backend: str) -> None:
        """The Assistant Proxy made (or found) the remote conversation: bind it, publish
        `ConversationBound` (what listeners such as the recorder learn it from)."""
        self._refuse_reentry("conversation_bound")
        self.bind_conversation(conversation_id)
        self._publish(
            ConversationBound(**self._common(), assistant_id=assistant_id, backend=backend)
        )

    # -- the user's requests that are not exchanges (one door: they go through here too) --

    async def open(self) -> str:
        """Make sure the remote conversation exists now; its id."""
        return await self._require_assistant().open_conversation()

    async def check_assistant(self) -> None:
        """Confirm the assistant exists (before the first message, creating nothing)."""
        await self._require_assistant().check_assistant()

    async def cancel(self) -> None:
        """Cancel the running exchange, if any; it ends `cancelled`."""
        await self._require_assistant().cancel()

    async def close(self) -> None:
        """Cancel any running exchange and release the assistant side's connections."""
        await self._require_assistant().aclose()

    async def list_run_steps(self) -> Sequence[object]:
        """The steps of the last run, as the remote API lists them (asked for, not pushed)."""
        return await self._require_assistant().list_run_steps()

    def attach(self, user: UserSide, assistant: AssistantSide) -> None:
        """Connect the two participants (again, to replace them)."""
        self._user = user
        self._assistant = assistant

    def _require_user(self) -> UserSide:
        if self._user is None:
            raise MediatorError("no user side attached; call attach() first")
        return self._user

    def _require_assistant(self) -> AssistantSide:
        if self._assistant is None:
            raise MediatorError("no assistant side attached; call attach() first")
        return self._assistant

    # -- the common path of every trigger ---------------------------------------------------

    def _refuse_reentry(self, what: str) -> None:
        if self._publishing:
            raise MediatorError(f"{what} called from an event listener; fire it afterwards")

    def _fire(self, trigger: Trigger, *, run_id: str | None | _Keep = _KEEP) -> None:
        """Apply `trigger`, update the run id, and publish `StateChanged` if the state moved."""
        self._refuse_reentry(trigger.value)
        previous = self.state
        self._apply(trigger)
        if run_id is not _KEEP:
            self._run_id = run_id
        state = self.state
        _logger.debug(
            "%s conversation=%s run=%s: %s -> %s (%s)",
            type(self).__name__,
            self._conversation_id,
            self._run_id,
            previous,
            state,
            trigger,
        )
        if state is not previous:
            self._publish(StateChanged(**self._common(), previous=previous, trigger=trigger))

    def _common(self) -> dict[str, Any]:
        """The fields every event carries, numbering it within its exchange."""
        seq = self._seq
        self._seq += 1
        return {
            "conversation_id": self._conversation_id,
            "session_id": self._session_id,
            "exchange_id": self._exchange_id,
            "seq": seq,
            "run_id": self._run_id,
            "state": self.state,
        }

    def _publish(self, event: MediatorEvent) -> None:
        self._publishing = True
        try:
            bus.publish(event)
        finally:
            self._publishing = False

    # -- triggers ---------------------------------------------------------------------------

    def set_user_message(self, text: str) -> str:
        """Start an exchange: mint its id, -> ready, `MessageSent`, then
        `assistant.start_exchange(exchange_id, text)`. Returns the exchange id."""
        assistant = self._require_assistant()
        exchange_id = uuid.uuid4().hex
        self._enter_exchange(exchange_id, first_seq=0)
        self._publish(
            MessageSent(
                **self._common(),
                text=text,
            )
        )
        assistant.start_exchange(exchange_id, text)
        return exchange_id

    def resume_exchange(self, exchange_id: str, text: str) -> None:
        """Finish exchange `exchange_id`, which an earlier process began with `text` and never
        ended: -> ready (the `set_user_message` row of the script), then
        `assistant.resume_exchange`. No `MessageSent`: the message was sent, and recorded, then.
        """
        assistant = self._require_assistant()
        # Numbered after anything the earlier process can have published for this exchange.
        self._enter_exchange(exchange_id, first_seq=RESUMED_SEQ)
        assistant.resume_exchange(exchange_id, text)

    def _enter_exchange(self, exchange_id: str, *, first_seq: int) -> None:
        """-> ready for exchange `exchange_id`; if the script refuses, nothing changes."""
        self._refuse_reentry(Trigger.SET_USER_MESSAGE.value)
        previous = (self._exchange_id, self._seq)
        self._exchange_id, self._seq = exchange_id, first_seq
        try:
            self._fire(Trigger.SET_USER_MESSAGE, run_id=None)
        except BaseException:
            self._exchange_id, self._seq = previous  # refused: the exchange never began
            raise

    def started(self, run_id: str, *, model: str | None = None) -> None:
        """The run exists remotely: -> started, `RunStarted`; `run_id` is set from here on."""
        self._fire(Trigger.STARTED, run_id=run_id)
        self._publish(
            RunStarted(
                **self._common(),
                model=model,
            )
        )

    def heartbeat(self, status: str) -> None:
        """A poll found the run active (`status`): -> running, `RunStatusChecked`."""
        self._fire(Trigger.HEARTBEAT)
        self._publish(
            RunStatusChecked(
                **self._common(),
                status=status,
            )
        )

    async def action_required(self, calls: Sequence[ToolCall]) -> tuple[ToolResult, ...]:
        """The assistant wants `calls` run: -> requires_action, `ActionRequired`; the user side
        executes them (asking a person first for those that need it, see the module docstring);
        -> tools_executed, `ToolExecuted` per call. Returns the results in call order. An
        exception from the user side propagates (the state stays where it was).
        """
        user = self._require_user()
        calls = tuple(calls)
        self._fire(Trigger.ACTION_REQUIRED)
        self._publish(
            ActionRequired(
                **self._common(),
                tool_calls=calls,
            )
        )
        requests: tuple[ApprovalRequest, ...] = ()
        if isinstance(user, ApprovingUserSide):
            requests = tuple(await user.approvals_needed(calls))
        if not requests:
            results = await user.execute_tools(calls)
            return self.tools_executed(calls, results)
        assert isinstance(user, ApprovingUserSide)  # only such a user side asks
        results, decisions = await self._run_approved(user, calls, requests)
        return self.tools_executed(calls, results, decisions=decisions.values())

    def tools_executed(
        self,
        calls: Sequence[ToolCall],
        results: Sequence[ToolResult],
        *,
        decisions: Iterable[ApprovalDecision] | None = None,
    ) -> tuple[ToolResult, ...]:
        """Record executed calls: -> tools_executed, one `ToolExecuted` per call.

        With `decisions` (the answers of a round of approval) the trigger says how it went:
        ``approved`` (every call), ``rejected`` (none) or ``partially_approved``.
        `action_required` calls this; call it directly only to replay tools executed earlier
        (resuming). Raises `ValueError`, state unchanged, unless there is exactly one result per
        call. Returns the results in call order.
        """
        paired = _pair(calls, results)
        self._fire(executed_trigger(decisions))
        for call, result in paired:
            self._publish(
                ToolExecuted(
                    **self._common(),
                    call=call,
                    result=result,
                )
            )
        return tuple(result for _, result in paired)

    def tool_outputs_submitted(self, results: Sequence[ToolResult]) -> None:
        """The outputs went back to the assistant: -> tool_outputs_submitted."""
        self._fire(Trigger.TOOL_OUTPUTS_SUBMITTED)
        self._publish(
            ToolOutputsSubmitted(
                **self._common(),
                results=tuple(results),
            )
        )

    def assistant_message_retrieved(self, text: str) -> None:
        """The reply arrived: -> completed, `MessageRetrieved`, then `user.deliver_reply`."""
        user = self._require_user()
        self._fire(Trigger.ASSISTANT_MESSAGE_RETRIEVED)
        self._publish(
            MessageRetrieved(
                **self._common(),
                text=text,
            )
        )
        user.deliver_reply(text)

    def message_delta(self, delta: str) -> None:
        """A piece of the reply arrived while streaming: `MessageDelta`, no state change."""
        self._refuse_reentry("message_delta")
        self._publish(
            MessageDelta(
                **self._common(),
                delta=delta,
            )
        )

    def usage_reported(
        self,
        usage: Usage,
        *,
        model: str | None,
        cost_usd: float | None = None,
        whole_run: bool = False,
    ) -> None:
        """The API reported tokens used since the last report: `UsageReported`, no state
        change."""
        self._refuse_reentry("usage_reported")
        self._publish(
            UsageReported(
                **self._common(), usage=usage, model=model, cost_usd=cost_usd, whole_run=whole_run
            )
        )

    def reconciled(self, request: str, error: str, found: str) -> None:
        """The Assistant Proxy looked after an ambiguous failure: `Reconciled`, no state change."""
        self._refuse_reentry("reconciled")
        self._publish(Reconciled(**self._common(), request=request, error=error, found=found))

    def failed(self, error: ExchangeError) -> None:
        """The exchange failed: -> failed, `ExchangeFailed`, then `user.deliver_error`."""
        user = self._require_user()
        self._fire(Trigger.FAILED)
        self._publish(
            ExchangeFailed(
                **self._common(),
                error=error.message,
                code=error.code,
            )
        )
        user.deliver_error(error)

    def cancelled(self, error: ExchangeCancelledError) -> None:
        """The exchange was cancelled: -> cancelled, `ExchangeCancelled`, `user.deliver_error`."""
        user = self._require_user()
        self._fire(Trigger.CANCELLED)
        self._publish(
            ExchangeCancelled(
                **self._common(),
                reason=error.message,
            )
        )
        user.deliver_error(error)

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} state={self.state.value} "
            f"conversation_id={self._conversation_id!r} run_id={self._run_id!r}>"
        )
