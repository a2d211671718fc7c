"""The User Proxy: acts for the user and runs the local function tools.

It is what `conversation.start_conversation()` hands to callers: `send_user_message()` then
`await get_assistant_message()`, as in the seed. The reply (or the exchange's error) arrives
through a future the Mediator resolves; nothing here polls.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from mediator.approvals import ApprovalDecision, ApprovalRequest, refusal
from mediator.bus import Subscription, subscribe
from mediator.errors import ExchangeError, ExchangeTimeoutError, ToolkitError
from mediator.events import ALL_TOPICS, MediatorEvent
from mediator.journal import Journal, JournalExchange, MemoryJournal
from proxies.backends.base import RunStepInfo
from proxies.journaling import journaled
from proxies.policy import ExchangePolicy
from tools.registry import ToolRegistry
from tools.types import ToolCall, ToolResult

if TYPE_CHECKING:
    from mediator.base import Mediator


class ConversationBusyError(ToolkitError, RuntimeError):
    """A message was sent while the previous exchange was still running."""


class UserProxy:
    """Acts for the user; implements the Mediator's `UserSide`."""

    def __init__(
        self,
        mediator: Mediator,
        registry: ToolRegistry,
        *,
        policy: ExchangePolicy | None = None,
        journal: Journal | None = None,
        approve_tools: Collection[str] = (),
    ) -> None:
        self._mediator = mediator
        self._registry = registry
        self._policy = policy or ExchangePolicy()
        self._journal: Journal = journal if journal is not None else MemoryJournal()
        self._approve_tools = frozenset(approve_tools)
        self._reply: asyncio.Future[str] | None = None
        # An exchange a previous process began and never finished (see `resume`).
        self._interrupted: JournalExchange | None = None
        # Approvals the journal shows pending for that exchange, and answers given to them
        # before the resumed exchange asks again (they are applied when it does).
        self._journal_pending: dict[str, ApprovalRequest] = {}
        self._early: dict[str, ApprovalDecision] = {}
        # Time spent waiting for people in this exchange: the reply's backstop stops too.
        self._waiting_since: float | None = None
        self._waited_s = 0.0
        self._resumed: str | None = None  # the exchange id resumed from the journal, if any
        self._suspended = False  # the last exchange was left waiting for approval

    # -- public API ----------------------------------------------------------------------

    @property
    def conversation_id(self) -> str | None:
        """The remote thread (conversation) id, once the first exchange created it."""
        return self._mediator.conversation_id

    @property
    def session_id(self) -> str:
        """The local id every event of this conversation carries (see `on_event`)."""
        return self._mediator.session_id

    @property
    def state(self) -> str:
        return str(self._mediator.state)

    @property
    def busy(self) -> bool:
        return self._reply is not None and not self._reply.done()

    @property
    def exchange_id(self) -> str | None:
        """The id of the last exchange (minted when its message was sent)."""
        return self._mediator.exchange_id

    async def list_run_steps(self) -> list[RunStepInfo]:
        """The steps of the last run, asked of the API now (not on the reply's path)."""
        steps = await self._mediator.list_run_steps()
        return [step for step in steps if isinstance(step, RunStepInfo)]

    async def open(self) -> str:
        """Create the remote conversation now instead of with the first message."""
        return await self._mediator.open()

    async def check_assistant(self) -> None:
        """Confirm the assistant exists before the first message (creates nothing remotely).

        Raises `BackendError` (`BackendNotFoundError` for an unknown id) naming the problem.
        """
        await self._mediator.check_assistant()

    def send_user_message(self, text: str) -> None:
        """Start an exchange with `text`; must be called from a running event loop."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("the user message must be a non-empty string")
        if self.busy:
            raise ConversationBusyError(
                "the previous message is still being answered; await get_assistant_message() first"
            )
        if self._interrupted is not None:
            raise ConversationBusyError(
                "an interrupted exchange must be finished first: await get_assistant_message()"
            )
        if self._suspended:
            raise ConversationBusyError(
                "the last exchange was left waiting for approval: continue it with "
                "conversation.resume_conversation(conversation_id)"
            )
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                "send_user_message() needs a running event loop: call it from async code "
                "(for example inside asyncio.run(...))"
            ) from None
        self._reply = loop.create_future()
        self._waiting_since, self._waited_s = None, 0.0
        self._mediator.set_user_message(text)

    @property
    def interrupted(self) -> JournalExchange | None:
        """An exchange of this conversation that an earlier process began and never finished
        (set by `conversation.resume_conversation`); `get_assistant_message()` finishes it."""
        return self._interrupted

    def resume_interrupted(self, exchange: JournalExchange) -> None:
        """Make `exchange` the one `get_assistant_message()` finishes (before any new one)."""
        self._interrupted = exchange
        self._journal_pending = {
            a.call_id: ApprovalRequest(a.call, a.why) for a in exchange.pending_approvals
        }

    # -- approvals -----------------------------------------------------------------------

    @property
    def pending_approvals(self) -> tuple[ApprovalRequest, ...]:
        """Tool calls waiting for the user's decision: answer each with `approve` or `reject`.

        After `conversation.resume_conversation`, this already lists what the interrupted
        exchange was waiting for (from the journal), before it is resumed.
        """
        live = self._mediator.pending_approvals
        if live:
            return live
        return tuple(r for r in self._journal_pending.values() if r.call.id not in self._early)

    def approve(self, call_id: str, reason: str | None = None, *, who: str = "user") -> None:
        """Let the pending tool call `call_id` run (`ApprovalGiven`).

        Raises `ApprovalNotPendingError` if no call of that id waits for a decision.
        """
        self._decide(ApprovalDecision(call_id, True, who=who, reason=reason))

    def reject(self, call_id: str, reason: str | None = None, *, who: str = "user") -> None:
        """Refuse the pending tool call `call_id` (`ApprovalRejected`): it does not run, and the
        model is told the user declined, with `reason`. Raises like `approve`."""
        self._decide(ApprovalDecision(call_id, False, who=who, reason=reason))

    async def suspend(self) -> None:
        """Leave the exchange that waits for approval for later, as a restart would (see
        `Mediator.suspend`): `get_assistant_message()` raises `ExchangeSuspendedError`, and
        `conversation.resume_conversation` continues it, here or in another process (answers
        given to it before it asks again are applied then). This object takes no new message
        afterwards."""
        await self._mediator.suspend()
        self._suspended = True

    def _decide(self, decision: ApprovalDecision) -> None:
        live = {r.call.id for r in self._mediator.pending_approvals}
        if decision.call_id not in live and decision.call_id in self._journal_pending:
            self._early[decision.call_id] = decision  # applied when the resumed exchange asks
            return
        if decision.approved:
            self._mediator.approve(decision.call_id, who=decision.who, reason=decision.reason)
        else:
            self._mediator.reject(decision.call_id, who=decision.who, reason=decision.reason)

    async def get_assistant_message(self) -> str:
        """The reply to the last message; raises an `ExchangeError` when the exchange failed.

        After `conversation.resume_conversation`, the first call finishes the exchange the
        earlier process left (see `interrupted`), without sending anything twice.

        Never waits forever: the exchange has a deadline, and this wait has its own backstop a
        little beyond it in case the exchange itself is stuck.
        """
        if self._reply is None and self._interrupted is not None:
            interrupted, self._interrupted = self._interrupted, None
            self._reply = asyncio.get_running_loop().create_future()
            self._waiting_since, self._waited_s = None, 0.0
            self._resumed = interrupted.exchange_id
            self._mediator.resume_exchange(interrupted.exchange_id, interrupted.text)
        reply = self._reply
        if reply is None:
            raise RuntimeError("no message was sent: call send_user_message() first")
        backstop = self._policy.deadline_s + self._policy.cancel_timeout_s + 5.0
        loop = asyncio.get_running_loop()
        end = loop.time() + backstop
        while True:
            # Like the exchange deadline, the backstop stops while a person decides.
            left = end + self._waited(loop.time()) - loop.time()
            try:
                return await asyncio.wait_for(asyncio.shield(reply), timeout=max(left, 0.0))
            except TimeoutError:
                if self._waiting_since is not None or end + self._waited(loop.time()) > loop.time():
                    continue
            break
        await self._mediator.cancel()
        if reply.done() and not reply.cancelled():
            return reply.result()
        raise ExchangeTimeoutError(
            f"no reply within {backstop:g} s", run_id=self._mediator.run_id
        ) from None

    def _waited(self, now: float) -> float:
        """Seconds this exchange has spent waiting for people so far."""
        ongoing = now - self._waiting_since if self._waiting_since is not None else 0.0
        return self._waited_s + ongoing

    async def ask(self, text: str) -> str:
        """Send `text` and wait for the reply."""
        self.send_user_message(text)
        return await self.get_assistant_message()

    async def cancel(self) -> None:
        """Cancel the running exchange (the run is cancelled at the API too)."""
        await self._mediator.cancel()

    def on_event(
        self,
        listener: Callable[[MediatorEvent], None],
        topics: Iterable[str] = ALL_TOPICS,
    ) -> Subscription:
        """Subscribe `listener` to this conversation's events only; close the result to stop.

        Matching is on the mediator's session id, which every event carries from the first
        one on, before the remote thread (and so the conversation id) exists.
        """
        session_id = self._mediator.session_id

        def only_mine(event: MediatorEvent) -> None:
            if event.session_id == session_id:
                listener(event)

        return subscribe(only_mine, topics=tuple(topics))

    async def aclose(self) -> None:
        """Cancel any running exchange and release the backend's connections."""
        await self._mediator.close()

    # -- UserSide ------------------------------------------------------------------------

    @property
    def approval_timeout_s(self) -> float:
        return self._policy.approval_timeout_s

    async def approvals_needed(self, calls: Sequence[ToolCall]) -> Sequence[ApprovalRequest]:
        """The calls that must wait for the user: their tool's rule or ``APPROVE_TOOLS``.

        A call the journal shows started or finished is not asked about again (it was
        approved then; the exactly-once rules of `execute_tools` apply), and an answer the
        journal or the user already gave is carried in the request. New requests are
        journaled before this returns, so a restart shows them pending.
        """
        exchange_id = self._mediator.exchange_id
        reasons = {
            call.id: self._registry.approval_reason(call, listed=self._approve_tools)
            for call in calls
        }
        if not any(reasons.values()) and exchange_id != self._resumed:
            return []  # nothing to ask, and no earlier process can have asked
        known = await self._known(exchange_id)
        requests: list[ApprovalRequest] = []
        for call in calls:
            if known is not None and known.call(call.id) is not None:
                continue
            asked = known.approval(call.id) if known is not None else None
            why = reasons[call.id] or (asked.why if asked is not None else None)
            if why is None:
                continue
            decided = self._early.pop(call.id, None)
            if decided is None and asked is not None and asked.approved is not None:
                decided = ApprovalDecision(
                    call.id, asked.approved, who=asked.who or "user", reason=asked.reason
                )
            requests.append(ApprovalRequest(call, why, decided))
        self._journal_pending.clear()
        fresh = [r for r in requests if known is None or known.approval(r.call.id) is None]
        if fresh and exchange_id is not None:
            await journaled(self._journal.approvals_requested, exchange_id, fresh)
        if requests:
            self._waiting_since = asyncio.get_running_loop().time()
        return requests

    async def _known(self, exchange_id: str | None) -> JournalExchange | None:
        if exchange_id is None:
            return None
        return await journaled(self._journal.exchange, exchange_id)

    async def execute_tools(
        self,
        calls: Sequence[ToolCall],
        decisions: Mapping[str, ApprovalDecision] | None = None,
    ) -> Sequence[ToolResult]:
        """Run each call exactly once per call id, whatever process asks (the journal says).

        With `decisions`, the answers are journaled first; a rejected call is not run, its
        result tells the model the user declined. A call with a recorded output is not run
        again: that output is returned. A call that started with no recorded outcome (the
        process died inside it) is run again only if its tool is idempotent; otherwise its
        result says the outcome is unknown. Every other call is journaled as started *before*
        it runs, and its output as soon as it returns.
        """
        exchange_id = self._mediator.exchange_id
        refused: dict[str, ToolResult] = {}
        if decisions is not None:
            self._stop_waiting()
            if exchange_id is not None:
                await journaled(
                    self._journal.approvals_decided, exchange_id, list(decisions.values())
                )
            refused = {
                call.id: refusal(call, decisions[call.id])
                for call in calls
                if call.id in decisions and not decisions[call.id].approved
            }
        allowed = [call for call in calls if call.id not in refused]
        ran = await self._execute_once(exchange_id, allowed) if allowed else []
        if refused and exchange_id is not None:
            await journaled(self._journal.calls_finished, exchange_id, list(refused.values()))
        by_id = {result.call_id: result for result in ran} | refused
        return [by_id[call.id] for call in calls]

    def _stop_waiting(self) -> None:
        if self._waiting_since is not None:
            self._waited_s += asyncio.get_running_loop().time() - self._waiting_since
            self._waiting_since = None

    async def _execute_once(
        self, exchange_id: str | None, calls: Sequence[ToolCall]
    ) -> Sequence[ToolResult]:
        if exchange_id is None:
            return await self._registry.execute_all(calls, timeout=self._policy.tool_timeout_s)
        known = await journaled(self._journal.exchange, exchange_id)
        settled: dict[str, ToolResult] = {}
        decided: list[ToolResult] = []  # outcomes decided now, to be journaled
        to_run: list[ToolCall] = []
        for call in calls:
            record = known.call(call.id) if known is not None else None
            if record is not None and record.output is not None:
                settled[call.id] = ToolResult(
                    call.id,
                    call.name,
                    record.output,
                    is_error=record.is_error,
                    error_type=record.error_type,
                )
            elif record is not None and not self._registry.is_idempotent(call.name):
                settled[call.id] = _outcome_unknown(call)
                decided.append(settled[call.id])
            else:
                to_run.append(call)
        if to_run:
            await journaled(self._journal.calls_started, exchange_id, to_run)
            ran = await self._registry.execute_all(to_run, timeout=self._policy.tool_timeout_s)
            settled.update((result.call_id, result) for result in ran)
            decided.extend(ran)
        if decided:
            await journaled(self._journal.calls_finished, exchange_id, decided)
        return [settled[call.id] for call in calls]

    def deliver_reply(self, text: str) -> None:
        if self._reply is not None and not self._reply.done():
            self._reply.set_result(text)

    def deliver_error(self, error: ExchangeError) -> None:
        if self._reply is not None and not self._reply.done():
            self._reply.set_exception(error)


OUTCOME_UNKNOWN = (
    "The outcome of this call is unknown: the process running it stopped before it finished, "
    "and the tool is not declared idempotent, so it was not run again. Check with the user "
    "before trying it again."
)


def _outcome_unknown(call: ToolCall) -> ToolResult:
    return ToolResult(
        call.id,
        call.name,
        json.dumps({"error": {"type": "outcome_unknown", "message": OUTCOME_UNKNOWN}}),
        is_error=True,
        error_type="outcome_unknown",
    )
