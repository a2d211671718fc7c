"""The Assistant Proxy: the only code that talks to the remote assistant API.

It turns one user message into one exchange: start a run, watch it (polling with the
server's hint or a backoff), hand tool calls to the Mediator, submit the outputs, and report
the reply or a clear error. Every exchange has a deadline; when it passes, or anything goes
wrong that cannot be retried, the run is cancelled at the API so the thread is free for the
next message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from mediator.errors import (
    ExchangeCancelledError,
    ExchangeError,
    ExchangeFailedError,
    ExchangeTimeoutError,
)
from proxies.backends.base import (
    Backend,
    RunSnapshot,
    RunStatus,
    RunStepInfo,
    StreamItem,
    TextDelta,
)
from proxies.errors import BackendError
from proxies.policy import ExchangePolicy
from tools.types import ToolResult

if TYPE_CHECKING:
    from mediator.base import Mediator

logger = logging.getLogger(__name__)

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
    ) -> None:
        if not assistant_id or not isinstance(assistant_id, str):
            raise ValueError("assistant_id must be a non-empty string")
        self._backend = backend
        self._assistant_id = assistant_id
        self._mediator = mediator
        self._policy = policy or ExchangePolicy()
        self._thread_id = thread_id
        # Stream when asked and the backend can; polling is the fallback either way.
        self._streaming = stream and backend.supports_streaming
        # This exchange's tool results by call id: a call is executed once, and if the run
        # still asks for it (a submission lost with a dropped stream) the result is re-sent.
        self._results: dict[str, ToolResult] = {}
        self._streamed_text = False
        self._task: asyncio.Task[None] | None = None
        self._run_id: str | None = None
        # A run of an earlier exchange that may still hold the thread (after a failure).
        self._unsettled_run: str | None = None
        self._announced = False
        if thread_id is not None:
            mediator.bind_conversation(thread_id)

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
        if self.busy:
            raise RuntimeError("an exchange is already running on this conversation")
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(
            self._exchange(exchange_id, text), name=f"assistant-mediator exchange {exchange_id}"
        )

    async def open_conversation(self) -> str:
        return await self.ensure_thread()

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
            self._announced = True
            self._mediator.conversation_bound(
                self._thread_id, assistant_id=self._assistant_id, backend=self._backend.name
            )
        return self._thread_id

    async def cancel(self) -> None:
        """Stop the running exchange, if any; it ends `cancelled`."""
        task = self._task
        if task is None or task.done():
            return
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    async def wait_idle(self) -> None:
        task = self._task
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)

    # -- the exchange --------------------------------------------------------------------

    async def _exchange(self, exchange_id: str, text: str) -> None:
        self._run_id = None
        try:
            async with asyncio.timeout(self._policy.deadline_s):
                await self._run_exchange(exchange_id, text)
        except TimeoutError:
            await self._end_failed(
                ExchangeTimeoutError(
                    f"no reply within the exchange deadline of {self._policy.deadline_s:g} s",
                    run_id=self._run_id,
                )
            )
        except asyncio.CancelledError:
            await self._settle_run()
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
        await self._settle_run()
        self._mediator.failed(error)

    async def _run_exchange(self, exchange_id: str, text: str) -> None:
        thread_id = await self.ensure_thread()
        await self._wait_for_unsettled_run(thread_id)
        self._results = {}
        self._streamed_text = False
        if self._streaming:
            stream = self._backend.stream_run(
                thread_id, self._assistant_id, text, exchange_id=exchange_id
            )
            snapshot = await self._follow(thread_id, stream)
        else:
            snapshot = await self._backend.start_run(
                thread_id, self._assistant_id, text, exchange_id=exchange_id
            )
            self._run_started(snapshot)
        delay: float | None = None
        while True:
            if snapshot.status is RunStatus.REQUIRES_ACTION:
                snapshot = await self._handle_action(thread_id, snapshot)
                delay = None
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
            delay = self._policy.next_poll_delay(delay, snapshot.poll_after_s)
            await asyncio.sleep(delay)
            snapshot = await self._poll(thread_id, snapshot.run_id)
            if snapshot.status.is_active:
                self._mediator.heartbeat(snapshot.status.value)

    def _run_started(self, snapshot: RunSnapshot) -> None:
        self._run_id = snapshot.run_id
        self._mediator.started(snapshot.run_id)

    async def _follow(self, thread_id: str, stream: AsyncIterator[StreamItem]) -> RunSnapshot:
        """Consume a stream until the run needs action or ends; poll if the stream drops.

        The stream is read to its end even after the final snapshot (the server closes right
        after it), so that no half-read HTTP response is left to the garbage collector.
        """
        final: RunSnapshot | None = None
        try:
            final = await self._consume(stream)
        except BackendError as exc:
            if self._run_id is None or not exc.retryable:
                raise
            logger.warning("the stream of run %s broke (%s); polling it", self._run_id, exc)
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        if final is not None:
            return final
        if self._run_id is None:
            raise ExchangeFailedError("the stream ended before the run started")
        return await self._poll(thread_id, self._run_id)

    async def _consume(self, stream: AsyncIterator[StreamItem]) -> RunSnapshot | None:
        """Turn stream items into mediator triggers; the final snapshot, if one came."""
        last: RunStatus | None = None
        final: RunSnapshot | None = None
        try:
            async for item in stream:
                if final is not None:
                    continue
                if isinstance(item, TextDelta):
                    self._streamed_text = True
                    self._mediator.message_delta(item.text)
                elif self._run_id is None:
                    self._run_started(item)
                elif item.status.is_active and item.status is not last:
                    self._mediator.heartbeat(item.status.value)
                if isinstance(item, RunSnapshot):
                    last = item.status
                    final = None if item.status.is_active else item
        except BackendError:
            if final is None:
                raise  # a break after the final snapshot loses nothing that matters
        return final

    async def _poll(self, thread_id: str, run_id: str) -> RunSnapshot:
        """Read the run, retrying transient failures until the exchange deadline."""
        backoff = self._policy.poll_initial_s
        while True:
            try:
                return await self._backend.get_run(thread_id, run_id)
            except BackendError as exc:
                if not exc.retryable:
                    raise
                logger.warning("status check of run %s failed (%s); retrying", run_id, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._policy.poll_max_s)

    async def _handle_action(self, thread_id: str, snapshot: RunSnapshot) -> RunSnapshot:
        calls = snapshot.tool_calls
        if calls and all(call.id in self._results for call in calls):
            # Already executed and sent, yet the run still asks: the submission was lost
            # (a dropped stream). Send the same outputs again; never run a tool twice.
            again = [self._results[call.id] for call in calls]
            logger.warning("re-sending lost tool outputs of run %s", snapshot.run_id)
            return await self._backend.submit_tool_outputs(thread_id, snapshot.run_id, again)
        results = await self._mediator.action_required(calls)
        self._results.update((result.call_id, result) for result in results)
        if self._streaming:
            stream = self._backend.stream_tool_outputs(thread_id, snapshot.run_id, results)
            self._mediator.tool_outputs_submitted(results)
            return await self._follow(thread_id, stream)
        submitted = await self._backend.submit_tool_outputs(thread_id, snapshot.run_id, results)
        self._mediator.tool_outputs_submitted(results)
        return submitted

    async def _finish(self, thread_id: str, snapshot: RunSnapshot) -> None:
        reply = await self._backend.get_reply(thread_id, snapshot.run_id)
        if not self._streamed_text and reply:
            # Polling sees the reply whole: deliver it as one delta, so that listeners
            # rendering deltas work the same whether the backend streamed or not.
            self._mediator.message_delta(reply)
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

    # -- keeping the thread usable -------------------------------------------------------

    async def _settle_run(self) -> None:
        """Cancel this exchange's run at the API, within the cancel timeout, never raising."""
        run_id = self._run_id
        thread_id = self._thread_id
        if run_id is None or thread_id is None:
            return
        self._unsettled_run = run_id
        if self._policy.cancel_timeout_s == 0:
            return
        try:
            async with asyncio.timeout(self._policy.cancel_timeout_s):
                snapshot = await asyncio.shield(self._backend.cancel_run(thread_id, run_id))
                if snapshot.status.is_terminal:
                    self._unsettled_run = None
        except (BackendError, TimeoutError) as exc:
            # Usually the run already ended (400) or the API is unreachable; the next
            # exchange checks the run again before it starts.
            logger.info("could not cancel run %s: %s", run_id, exc)

    async def _wait_for_unsettled_run(self, thread_id: str) -> None:
        """Before a new run, make sure an earlier one no longer locks the thread."""
        run_id = self._unsettled_run
        if run_id is None:
            return
        delay: float | None = None
        while True:
            snapshot = await self._poll(thread_id, run_id)
            if snapshot.status.is_terminal:
                self._unsettled_run = None
                return
            if snapshot.status is not RunStatus.CANCELLING:
                try:
                    await self._backend.cancel_run(thread_id, run_id)
                except BackendError as exc:
                    logger.info("could not cancel earlier run %s: %s", run_id, exc)
            delay = self._policy.next_poll_delay(delay, snapshot.poll_after_s)
            await asyncio.sleep(delay)
