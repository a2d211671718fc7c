"""The Assistant Proxy: the only code that talks to the remote assistant API.

It turns one user message into one exchange: start a run, watch it (streaming, or polling
with the server's hint or a backoff), hand tool calls to the Mediator, submit the outputs,
and report the reply or a clear error. Every exchange has a deadline.

It never loses track of what exists remotely (DESIGN.md section 9):
- a request that creates something is never re-sent blind: after a failure whose outcome is
  unknown (a lost reply, a reset, a stream cut before its first event) the proxy asks the
  backend what the attempt left (`find_run`), adopts it if it exists, and only otherwise tries
  again, after a jittered pause; a `Reconciled` event says what was found;
- a stream that breaks after the run is known is resumed where it broke when the protocol can
  (Responses), else the run is polled;
- tool outputs count as submitted (`ToolOutputsSubmitted`) only once the server took them;
- however an exchange ends, the conversation is left usable (`Backend.settle_run`: no run
  still working, no tool call left without an output) before the next message is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from mediator.errors import (
    ExchangeCancelledError,
    ExchangeError,
    ExchangeFailedError,
    ExchangeTimeoutError,
)
from mediator.journal import Journal, MemoryJournal
from mediator.usage import Usage
from proxies.admission import Admission, Slot
from proxies.backends.base import (
    Backend,
    RunSnapshot,
    RunStatus,
    RunStepInfo,
    StreamItem,
)
from proxies.errors import BackendError
from proxies.journaling import journaled
from proxies.policy import ExchangePolicy
from proxies.polling import TurnWatch, turn_clock
from proxies.recovery import RetryPause, worth_retrying
from proxies.settling import Settler
from proxies.streams import StreamReader
from tools.types import ToolResult

if TYPE_CHECKING:
    from mediator.base import Mediator

logger = logging.getLogger(__name__)

#: What tokens cost: (model, usage) -> US dollars, or None when no price is known.
Price = Callable[[str, Usage], float | None]

_RUN_ENDED_MESSAGES = {
    RunStatus.FAILED: "the assistant's run failed",
    RunStatus.EXPIRED: "the assistant's run expired before it finished",
    RunStatus.INCOMPLETE: "the assistant's run ended incomplete",
}


class AssistantProxy:
    """Acts for the remote assistant; implements the Mediator's `AssistantSide`."""

    def __init__(
        self,
        backend: Backend,
        assistant_id: str,
        mediator: Mediator,
        *,
        policy: ExchangePolicy | None = None,
        thread_id: str | None = None,
        stream: bool = False,
        journal: Journal | None = None,
        price: Price | None = None,
        admission: Admission | None = None,
    ) -> None:
        if not assistant_id or not isinstance(assistant_id, str):
            raise ValueError("assistant_id must be a non-empty string")
        self._backend = backend
        self._assistant_id = assistant_id
        self._mediator = mediator
        self._policy = policy or ExchangePolicy()
        self._thread_id = thread_id
        self._journal: Journal = journal if journal is not None else MemoryJournal()
        self._price = price
        self._reported: Usage | None = None  # the run's usage as last reported
        self._announced = False
        if thread_id is not None:
            mediator.bind_conversation(thread_id)
        # Stream when asked and the backend can; polling is the fallback either way.
        self._streaming = stream and backend.supports_streaming
        # This exchange's tool results by call id: a call is executed once, and if the run
        # still asks for it (the outputs never reached the server) the result is sent again.
        self._results: dict[str, ToolResult] = {}
        self._task: asyncio.Task[None] | None = None
        self._run_id: str | None = None
        self._exchange_id: str | None = None
        self._last_status: RunStatus | None = None  # the run's, as last seen
        self._deadline: asyncio.Timeout | None = None  # the running exchange's
        self._detaching = False
        self._settler = Settler(backend, self._policy)
        self._streams = StreamReader(mediator, backend, self._poll)
        # Without a server hint, polls are timed by what this assistant's turns have taken.
        self._turns = turn_clock(f"{backend.name}:{assistant_id}")
        # Exchanges (and the conversation's creation) wait their turn when the loop has
        # more than it can carry; this conversation's place in line is taken at its first
        # request and kept, so whoever came first is served first.
        self._admission = admission
        self._place: int | None = None
        self._slot: Slot | None = None  # held while an exchange works

    @property
    def thread_id(self) -> str | None:
        return self._thread_id

    @property
    def backend(self) -> Backend:
        return self._backend

    @property
    def streaming(self) -> bool:
        return self._streaming

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    # -- AssistantSide -------------------------------------------------------------------

    def start_exchange(self, exchange_id: str, text: str) -> None:
        """Schedule the exchange on the running loop and return at once."""
        self._schedule(exchange_id, text, resuming=False)

    def resume_exchange(self, exchange_id: str, text: str) -> None:
        """Finish an exchange an earlier process began: find what exists, adopt it."""
        self._schedule(exchange_id, text, resuming=True)

    def _schedule(self, exchange_id: str, text: str, *, resuming: bool) -> None:
        if self.busy:
            raise RuntimeError("an exchange is already running on this conversation")
        self._task = asyncio.get_running_loop().create_task(
            self._exchange(exchange_id, text, resuming=resuming),
            name=f"assistant-mediator exchange {exchange_id}",
        )

    async def open_conversation(self) -> str:
        async with self._admitted():
            return await self.ensure_thread()

    @contextlib.asynccontextmanager
    async def _admitted(self) -> AsyncIterator[None]:
        """Hold one of the loop's slots for the block (no gate: nothing to wait for)."""
        if self._admission is None:
            yield
            return
        if self._place is None:
            self._place = self._admission.place()
        async with self._admission.admitted(self._place) as slot:
            self._slot = slot
            try:
                yield
            finally:
                self._slot = None

    async def check_assistant(self) -> None:
        await self._backend.check_assistant(self._assistant_id)

    @contextlib.contextmanager
    def deadline_paused(self) -> Iterator[None]:
        """The exchange deadline stops within the block (a person decides) and then goes on
        with the time it had left."""
        if self._slot is not None:  # a person deciding holds no slot; the rest runs on
            self._slot.release()
        deadline = self._deadline
        when = deadline.when() if deadline is not None else None
        if deadline is None or when is None or deadline.expired():
            yield
            return
        loop = asyncio.get_running_loop()
        left = when - loop.time()
        deadline.reschedule(None)
        try:
            yield
        finally:
            if not deadline.expired():
                deadline.reschedule(loop.time() + max(left, 0.0))

    async def list_run_steps(self) -> list[RunStepInfo]:
        """The last run's steps, asked of the API now (never on the reply's path)."""
        if self._run_id is None or self._thread_id is None:
            return []
        return await self._backend.list_steps(self._thread_id, self._run_id)

    async def aclose(self) -> None:
        await self.cancel()
        await self._backend.aclose()

    # -- lifecycle -----------------------------------------------------------------------

    async def ensure_thread(self) -> str:
        """The remote conversation's id, creating it on first use. The first call also tells
        the mediator which conversation this is (a resumed one included)."""
        if self._thread_id is None:
            self._thread_id = await self._backend.create_thread()
        if not self._announced:
            # The protocol spoken, not `auto`: a resumed conversation created nothing, so
            # a backend that chooses on first use has not chosen yet.
            serving = await self._backend.resolve()
            if not self._announced:
                self._announced = True
                self._mediator.conversation_bound(
                    self._thread_id, assistant_id=self._assistant_id, backend=serving.name
                )
        return self._thread_id

    async def cancel(self) -> None:
        """Stop the running exchange, if any; it ends `cancelled`."""
        task = self._task
        if task is None or task.done():
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def detach(self) -> None:
        """Stop following the running exchange without ending it (see `Mediator.suspend`):
        nothing is cancelled remotely, nothing journaled as ended."""
        task = self._task
        if task is None or task.done():
            return
        self._detaching = True
        try:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        finally:
            self._detaching = False

    async def wait_idle(self) -> None:
        task = self._task
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    # -- the exchange --------------------------------------------------------------------

    async def _exchange(self, exchange_id: str, text: str, *, resuming: bool = False) -> None:
        self._run_id = None
        self._exchange_id = exchange_id
        self._last_status = None
        self._reported = None
        try:
            async with asyncio.timeout(self._policy.deadline_s) as self._deadline:
                # Waiting in line counts against the deadline: it is the user's wait too.
                async with self._admitted():
                    await self._run_exchange(exchange_id, text, resuming=resuming)
        except TimeoutError:
            await self._end_failed(
                ExchangeTimeoutError(
                    f"no reply within the exchange deadline of {self._policy.deadline_s:g} s",
                    run_id=self._run_id,
                )
            )
        except asyncio.CancelledError:
            if self._detaching:  # left for later: the run waits, the journal keeps it open
                raise
            await self._settle()
            await self._journal_ended("cancelled", None)
            self._mediator.cancelled(
                ExchangeCancelledError("the exchange was cancelled", run_id=self._run_id)
            )
            raise
        except BackendError as exc:
            await self._end_failed(
                ExchangeFailedError(
                    f"the assistant API call failed: {exc.message}",
                    run_id=self._run_id,
                    code=exc.code,
                )
            )
        except ExchangeCancelledError as exc:  # cancelled on the remote side
            await self._journal_ended("cancelled", None)
            self._mediator.cancelled(exc)
        except ExchangeError as exc:
            await self._end_failed(exc)
        except Exception as exc:
            logger.exception("internal error during an exchange")
            await self._end_failed(
                ExchangeFailedError(
                    f"internal error: {type(exc).__name__}: {exc}", run_id=self._run_id
                )
            )

    async def _end_failed(self, error: ExchangeError) -> None:
        await self._settle()
        await self._journal_ended("failed", None)
        self._mediator.failed(error)

    async def _journal_ended(self, outcome: str, reply: str | None) -> None:
        """The exchange is over (not merely interrupted): nothing left to resume."""
        if self._exchange_id is None:
            return
        await journaled(self._journal.exchange_ended, self._exchange_id, outcome, reply)

    async def _run_exchange(self, exchange_id: str, text: str, *, resuming: bool) -> None:
        thread_id = await self.ensure_thread()
        self._results = {}
        self._streams.streamed_text = False
        if resuming:
            snapshot = await self._resume(thread_id, exchange_id, text)
        else:
            await self._settler.before_next(thread_id)
            # Durable before anything is sent: a process that dies from here on leaves an
            # exchange that `resume_conversation` can finish.
            await journaled(
                self._journal.exchange_started, thread_id, exchange_id, self._assistant_id, text
            )
            snapshot = await self._begin(thread_id, exchange_id, text)
        watch: TurnWatch | None = None  # the turn being polled
        while True:
            self._last_status = snapshot.status
            self._report_usage(snapshot)
            if snapshot.status is RunStatus.REQUIRES_ACTION:
                snapshot = await self._handle_action(thread_id, snapshot)
                watch = None
                continue
            if snapshot.status is RunStatus.COMPLETED:
                await self._finish(thread_id, snapshot)
                return
            if snapshot.status is RunStatus.CANCELLED:
                raise ExchangeCancelledError(
                    "the run was cancelled on the remote side",
                    run_id=snapshot.run_id,
                    status=snapshot.status.value,
                )
            if snapshot.status.is_terminal:
                raise self._run_ended(snapshot)
            if watch is None:
                watch = self._turns.watch(self._policy)
            await asyncio.sleep(watch.next_delay(snapshot.poll_after_s))
            snapshot = await self._poll(thread_id, snapshot.run_id)
            watch.seen(snapshot.status.is_active)
            if snapshot.status.is_active:
                self._mediator.heartbeat(snapshot.status.value)

    async def _resume(self, thread_id: str, exchange_id: str, text: str) -> RunSnapshot:
        """The run an earlier process left for this exchange, adopted; or a new one."""
        await self._backend.prepare_resume(thread_id, self._assistant_id, exchange_id, text)
        found = await self._backend.find_run(thread_id, exchange_id)
        what = "nothing: starting it" if found is None else f"{found.status.value}: adopted"
        self._mediator.reconciled("resume", "the process running it stopped", what)
        if found is None:
            return await self._begin(thread_id, exchange_id, text, recovering=True)
        self._run_started(found)
        return await self._continue(thread_id, found)

    def _run_started(self, snapshot: RunSnapshot) -> bool:
        """Fire `started` for the exchange's run, once; True (the snapshot is accounted for)."""
        if self._run_id is None:
            self._run_id = snapshot.run_id
            self._mediator.started(snapshot.run_id, model=snapshot.model)
        return True

    def _report_usage(self, snapshot: RunSnapshot) -> None:
        """Publish the tokens the run used since the last report, priced when a price is
        known (never guessed: an unknown model has no cost)."""
        if snapshot.usage is None or snapshot.usage == self._reported:
            return
        new = snapshot.usage if self._reported is None else snapshot.usage.since(self._reported)
        self._reported = snapshot.usage
        cost = None
        if self._price is not None and snapshot.model:
            try:
                cost = self._price(snapshot.model, new)
            except Exception:  # a price table that breaks must not break the exchange
                logger.warning("pricing %s failed", snapshot.model, exc_info=True)
        self._mediator.usage_reported(
            new,
            model=snapshot.model,
            cost_usd=cost,
            whole_run=not self._backend.usage_per_response,
        )

    # -- starting, and submitting tool outputs: look before you leap ---------------------

    async def _begin(
        self, thread_id: str, exchange_id: str, text: str, *, recovering: bool = False
    ) -> RunSnapshot:
        """Start the run: adopt what an ambiguous attempt created, else try again."""
        pause = RetryPause(self._policy)
        while True:
            try:
                if self._streaming:
                    stream = self._backend.stream_run(
                        thread_id,
                        self._assistant_id,
                        text,
                        exchange_id=exchange_id,
                        recovering=recovering,
                    )
                    return await self._follow(thread_id, stream, on_first=self._run_started)
                snapshot = await self._backend.start_run(
                    thread_id,
                    self._assistant_id,
                    text,
                    exchange_id=exchange_id,
                    recovering=recovering,
                )
                self._run_started(snapshot)
                return snapshot
            except BackendError as exc:
                if not worth_retrying(exc):
                    raise
                # Look right before trying again: an attempt still running when it failed
                # may have finished during the pause, and must be adopted, not repeated.
                await pause.wait(exc)
                found = await self._reconcile(thread_id, exc, "starting the run")
                if found is not None:
                    self._run_started(found)
                    return await self._continue(thread_id, found)
                recovering = True

    async def _submit(self, thread_id: str, run_id: str, results: list[ToolResult]) -> RunSnapshot:
        """Send the outputs once the server has them: adopt an ambiguous attempt that was
        taken, send again only when the run still waits for these very calls."""
        pause = RetryPause(self._policy)
        call_ids = {result.call_id for result in results}

        def accepted(_: RunSnapshot | None = None) -> bool:
            self._mediator.tool_outputs_submitted(results)
            return False  # the stream's first snapshot still counts as a heartbeat

        while True:
            try:
                if self._streaming:
                    stream = self._backend.stream_tool_outputs(thread_id, run_id, results)
                    return await self._follow(thread_id, stream, on_first=accepted)
                snapshot = await self._backend.submit_tool_outputs(thread_id, run_id, results)
                accepted()
                return snapshot
            except BackendError as exc:
                if not worth_retrying(exc):
                    raise
                await pause.wait(exc)
                found = await self._reconcile(
                    thread_id, exc, "submitting tool outputs", submitted=sorted(call_ids)
                )
                still_waiting = found is not None and (
                    found.status is RunStatus.REQUIRES_ACTION
                    and {call.id for call in found.tool_calls} >= call_ids
                )
                if found is not None and not still_waiting:
                    accepted()
                    return await self._continue(thread_id, found)

    async def _reconcile(
        self,
        thread_id: str,
        exc: BackendError,
        doing: str,
        *,
        submitted: Sequence[str] = (),
    ) -> RunSnapshot | None:
        """Ask what an ambiguous attempt left (retrying the look itself), and say so."""
        assert self._exchange_id is not None
        pause = RetryPause(self._policy)
        while True:
            try:
                found = await self._backend.find_run(
                    thread_id, self._exchange_id, submitted=submitted
                )
                break
            except BackendError as look:
                if not worth_retrying(look):
                    raise
                await pause.wait(look)
        what = (
            "nothing yet: trying again"
            if found is None
            else (f"run {found.run_id} is {found.status.value}: adopted")
        )
        logger.warning("%s failed (%s); found %s", doing, exc.message, what)
        self._mediator.reconciled(exc.request or doing, exc.message, what)
        return found

    async def _continue(self, thread_id: str, found: RunSnapshot) -> RunSnapshot:
        """Pick up an adopted run: resume its stream when it is still working and we can."""
        if self._streaming and found.status.is_active and self._backend.supports_resume:
            try:
                resumed = self._backend.resume_stream(thread_id, found.run_id)
                return await self._follow(thread_id, resumed)
            except BackendError as exc:
                logger.warning("could not resume run %s (%s); polling it", found.run_id, exc)
        return found

    # -- streams and status checks -------------------------------------------------------

    async def _follow(
        self,
        thread_id: str,
        stream: AsyncIterator[StreamItem],
        *,
        on_first: Callable[[RunSnapshot], bool] | None = None,
    ) -> RunSnapshot:
        return await self._streams.follow(
            thread_id, stream, lambda: self._run_id, on_first=on_first
        )

    async def _poll(self, thread_id: str, run_id: str) -> RunSnapshot:
        """Read the run, retrying transient failures until the exchange deadline."""
        pause = RetryPause(self._policy)
        while True:
            try:
                return await self._backend.get_run(thread_id, run_id)
            except BackendError as exc:
                if not exc.retryable:
                    raise
                logger.warning("status check of run %s failed (%s); retrying", run_id, exc)
                await pause.wait(exc)

    # -- tools and the reply -------------------------------------------------------------

    async def _handle_action(self, thread_id: str, snapshot: RunSnapshot) -> RunSnapshot:
        calls = snapshot.tool_calls
        if calls and all(call.id in self._results for call in calls):
            # Executed already, yet the run still asks: the outputs never reached the server
            # (it says so by still waiting for them). Send the same outputs; never run twice.
            logger.warning("sending the tool outputs of run %s again", snapshot.run_id)
            return await self._submit(
                thread_id, snapshot.run_id, [self._results[call.id] for call in calls]
            )
        results = await self._mediator.action_required(calls)
        self._results.update((result.call_id, result) for result in results)
        try:
            return await self._submit(thread_id, snapshot.run_id, list(results))
        except BackendError as exc:
            raise await self._expired_meanwhile(thread_id, snapshot.run_id, exc) from exc

    async def _expired_meanwhile(
        self, thread_id: str, run_id: str, exc: BackendError
    ) -> ExchangeError | BackendError:
        """The error to end with when the outputs were refused: the run may have expired on
        the server while the calls ran or waited for approval (Assistants runs expire after
        10 minutes), which deserves plainer words than the API's 400."""
        try:
            run = await self._backend.get_run(thread_id, run_id)
        except BackendError:
            return exc
        if run.status is not RunStatus.EXPIRED:
            return exc
        self._last_status = run.status
        return ExchangeFailedError(
            "the assistant's run expired on the server before the tool outputs were sent "
            "(the tool calls took longer, approval included, than the server keeps a run "
            "waiting); send the message again",
            run_id=run_id,
            status=run.status.value,
            code="run_expired",
        )

    async def _finish(self, thread_id: str, snapshot: RunSnapshot) -> None:
        reply = await self._backend.get_reply(thread_id, snapshot.run_id)
        if not self._streams.streamed_text and reply:
            # Polling sees the reply whole: deliver it as one delta, so that listeners
            # rendering deltas work the same whether the backend streamed or not.
            self._mediator.message_delta(reply)
        await self._journal_ended("completed", reply)
        self._mediator.assistant_message_retrieved(reply)

    @staticmethod
    def _run_ended(snapshot: RunSnapshot) -> ExchangeFailedError:
        what = _RUN_ENDED_MESSAGES.get(snapshot.status, f"the run ended {snapshot.status.value}")
        detail = f": {snapshot.error.message}" if snapshot.error else ""
        return ExchangeFailedError(
            f"{what}{detail}",
            run_id=snapshot.run_id,
            status=snapshot.status.value,
            code=snapshot.error.code if snapshot.error else None,
        )

    # -- keeping the conversation usable -------------------------------------------------

    async def _settle(self) -> None:
        """After an exchange ended early, leave nothing holding the conversation."""
        thread_id, exchange_id = self._thread_id, self._exchange_id
        if thread_id is None or exchange_id is None:
            return
        if self._last_status is not None and self._last_status.is_terminal:
            return  # the run ended on its own: it holds nothing, and left no open call
        await self._settler.after_early_end(thread_id, self._run_id, exchange_id)
