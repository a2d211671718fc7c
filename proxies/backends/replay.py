"""What the stateless backends share: the conversation kept here, each request a local run.

A server that keeps no state (Ollama, vLLM without its store, llama.cpp, gateways) is sent the
conversation with every request. So, for `responses-stateless` and `chat`:

- the *thread* is a conversation id minted here (`create_thread` asks the server nothing);
  its items live in this backend's memory as the exchange happens, and are read from the
  `HistorySource` (the journal) only when a conversation is opened that this backend did not
  start: resumed, or begun by another process;
- the *run* is the exchange (the mediator's id, `runs_are_exchanges`), and each request of it
  is a local task: `start_run` and `submit_tool_outputs` start one and answer ``in_progress``,
  `get_run` waits a little for it, `cancel_run` cancels it. Polling and streaming so walk the
  same states as on a server with runs;
- the model's answer (text, function calls, or how it ended) is folded into the conversation
  once; function calls are reported as ``requires_action`` and their outputs are the next
  request's last items;
- nothing exists on the server to look up or to settle: `find_run` reports calls still waiting
  for outputs (so a resumed exchange executes them once, through the journal), else nothing,
  and a failed request is simply sent again; `settle_run` stops the local task and answers
  open calls as cancelled.

Subclasses speak the wire: `_send` (one plain request) and `_stream` (one streamed request).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from abc import abstractmethod
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from contextlib import aclosing
from typing import Final

from proxies.backends.base import (
    AssistantCatalog,
    AssistantDefinition,
    Backend,
    RunSnapshot,
    RunStatus,
    RunStepInfo,
    StreamItem,
    TextDelta,
)
from proxies.backends.budget import ContextBudget
from proxies.backends.clients import SharedClient
from proxies.backends.history import (
    Answered,
    Called,
    HistoryItem,
    HistorySource,
    NoHistory,
    Said,
    close_open_calls,
    tool_rounds,
)
from proxies.backends.replay_state import Conversation, Exchange, Outcome, Request, StreamEvent
from proxies.errors import (
    BackendBadRequestError,
    BackendNotFoundError,
    BackendUnprocessableError,
)
from tools.types import ToolCall, ToolResult

__all__ = ["Outcome", "ReplayBackend", "Request", "StreamEvent"]

logger = logging.getLogger(__name__)

#: How long `get_run` waits for the local request before it answers ``in_progress``.
LOCAL_WAIT_S: Final = 0.25
#: How long opening a conversation may wait for its history before going on without it.
HISTORY_WAIT_S: Final = 10.0
_MAX_EXCHANGES = 256
_MAX_CONVERSATIONS = 256


class ReplayBackend(Backend):
    """Base of the backends for servers that keep no conversation (module docstring)."""

    supports_streaming = True
    usage_per_response = True  # each request's usage, as it completes
    supports_resume = False
    runs_are_exchanges = True

    def __init__(
        self,
        client: SharedClient,
        catalog: AssistantCatalog,
        *,
        history: HistorySource | None = None,
        budget: ContextBudget | None = None,
    ) -> None:
        self._clients = client
        self._catalog = catalog
        self._history: HistorySource = history if history is not None else NoHistory()
        self._budget = budget or ContextBudget()
        self._conversations: OrderedDict[str, Conversation] = OrderedDict()
        self._exchanges: OrderedDict[str, Exchange] = OrderedDict()
        self._definitions: dict[str, AssistantDefinition] = {}
        self._plain_only = False  # the server refused to stream: plain requests only

    # -- the wire (subclasses) ---------------------------------------------------------------

    @abstractmethod
    async def _send(self, request: Request) -> Outcome:
        """Send one plain request and return how the model answered."""

    @abstractmethod
    def _stream(self, request: Request) -> AsyncGenerator[StreamEvent, None]:
        """Send one streamed request: `QUEUED` once the server took it, `IN_PROGRESS` at its
        first event, text deltas, and the `Outcome` last."""

    def _request(self, exchange: Exchange) -> Request:
        """The next request of `exchange`: its conversation within the token budget."""
        definition = exchange.definition
        fixed = self._budget.fixed_cost(definition.instructions, definition.tools)
        conversation = exchange.conversation
        units = self._budget.fit(tool_rounds(conversation.items), fixed)
        if conversation.anchor is None:
            return Request(definition, tuple(units))
        response_id, covered = conversation.anchor
        since = tuple(conversation.items[covered:])
        return Request(definition, tuple(units), chain_from=response_id, since_chain=since)

    # -- bookkeeping -------------------------------------------------------------------------

    def _exchange(self, run_id: str) -> Exchange:
        exchange = self._exchanges.get(run_id)
        if exchange is None:
            raise BackendNotFoundError(f"No run found with id '{run_id}'.", status_code=404)
        return exchange

    async def _definition(self, assistant_id: str) -> AssistantDefinition:
        definition = self._definitions.get(assistant_id)
        if definition is None:
            found = await asyncio.to_thread(self._catalog.get, assistant_id)
            if found is None:
                raise BackendNotFoundError(
                    f"No assistant definition found with id '{assistant_id}': create one with "
                    f"`python assistant_setup.py`.",
                    status_code=404,
                )
            definition = self._definitions[assistant_id] = found
        return definition

    async def _read_history(self, conversation_id: str) -> list[HistoryItem]:
        """The conversation's items from the source, bounded; none (and a warning) if the
        source is away: the model then answers without the earlier turns."""
        try:
            return await asyncio.wait_for(
                asyncio.to_thread(self._history.items, conversation_id), HISTORY_WAIT_S
            )
        except Exception as exc:
            logger.warning(
                "could not read the history of conversation %s (%s: %s); going on without "
                "it: the model will not see the earlier turns",
                conversation_id,
                type(exc).__name__,
                str(exc).splitlines()[0][:200] if str(exc) else "",
            )
            return []

    async def _open(
        self, thread_id: str, assistant_id: str, exchange_id: str | None, text: str
    ) -> Exchange:
        """The exchange `exchange_id` of conversation `thread_id`, begun now if it is new.

        A conversation this backend has not seen is read from the history source; the items
        of this very exchange found there (an interrupted one being resumed) are taken up:
        its user message, and its calls with their outputs or still waiting."""
        if exchange_id is not None and (again := self._exchanges.get(exchange_id)) is not None:
            return again  # another attempt of the same exchange
        definition = await self._definition(assistant_id)
        exchange_id = exchange_id or uuid.uuid4().hex
        conversation = self._conversations.get(thread_id)
        mine: list[HistoryItem] = []
        if conversation is None:
            found = await self._read_history(thread_id)
            earlier = [item for item in found if item.exchange_id != exchange_id]
            mine = [item for item in found if item.exchange_id == exchange_id]
            conversation = self._remember_conversation(Conversation(thread_id, earlier))
        exchange = Exchange(exchange_id, conversation, definition)
        # Calls an earlier exchange left open are answered now (a server refuses them).
        conversation.items.extend(close_open_calls(conversation.items))
        if mine:
            conversation.items.extend(mine)
            answered = {item.call_id for item in mine if isinstance(item, Answered)}
            exchange.pending = tuple(
                ToolCall(i.call_id, i.name, i.arguments)
                for i in mine
                if isinstance(i, Called) and i.call_id not in answered
            )
        else:
            conversation.items.append(Said("user", text, exchange_id))
        self._exchanges[exchange_id] = exchange
        while len(self._exchanges) > _MAX_EXCHANGES:
            self._exchanges.popitem(last=False)
        return exchange

    def _remember_conversation(self, conversation: Conversation) -> Conversation:
        self._conversations[conversation.id] = conversation
        while len(self._conversations) > _MAX_CONVERSATIONS:
            self._conversations.popitem(last=False)
        return conversation

    def _launch(self, exchange: Exchange) -> RunSnapshot:
        """Send the exchange's next request as a local task; the run is in progress."""
        request = self._request(exchange)
        exchange.last = None
        exchange.looked = False
        exchange.task = asyncio.get_running_loop().create_task(
            self._send(request), name=f"assistant-mediator request {exchange.id}"
        )
        return exchange.snapshot(RunStatus.IN_PROGRESS)

    @staticmethod
    async def _stop(exchange: Exchange) -> None:
        """Cancel the exchange's request in flight, if any, and wait until it stopped."""
        task, exchange.task = exchange.task, None
        if task is None:
            return
        if not task.done() and task.get_loop() is asyncio.get_running_loop():
            # (A task of a loop that has ended, as when an app runs each interaction in a loop
            # of its own, was stopped with its loop.)
            task.cancel()
            await asyncio.wait({task})
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: a failed request nobody asked about is not logged

    # -- Backend -----------------------------------------------------------------------------

    async def create_assistant(self, definition: AssistantDefinition) -> str:
        return self._catalog.save(definition)

    async def create_thread(self) -> str:
        """A new conversation: the server keeps none, so it is named here."""
        conversation = Conversation(f"conv_local_{uuid.uuid4().hex}")
        return self._remember_conversation(conversation).id

    async def start_run(
        self,
        thread_id: str,
        assistant_id: str,
        text: str,
        *,
        exchange_id: str | None = None,
        recovering: bool = False,
    ) -> RunSnapshot:
        exchange = await self._open(thread_id, assistant_id, exchange_id, text)
        await self._stop(exchange)  # an earlier attempt's request, if one is still out
        return self._launch(exchange)

    async def get_run(self, thread_id: str, run_id: str) -> RunSnapshot:
        exchange = self._exchange(run_id)
        task = exchange.task
        if task is None:
            if exchange.last is not None:
                return exchange.last
            return self._launch(exchange)  # a stream broke: ask again, plainly
        # The first look answers at once (the request is out: the run is in progress, as a
        # server would say); later ones wait a little for it, so polling adds no latency.
        wait = LOCAL_WAIT_S if exchange.looked else 0.0
        exchange.looked = True
        done, _ = await asyncio.wait({task}, timeout=wait)
        if not done:
            return exchange.snapshot(RunStatus.IN_PROGRESS, poll_after_s=0.0)
        exchange.task = None
        return exchange.fold(task.result())  # a failed request raises; asked again next

    async def submit_tool_outputs(
        self, thread_id: str, run_id: str, results: Sequence[ToolResult]
    ) -> RunSnapshot:
        exchange = self._exchange(run_id)
        exchange.answer(results)
        await self._stop(exchange)
        return self._launch(exchange)

    async def cancel_run(self, thread_id: str, run_id: str) -> RunSnapshot:
        exchange = self._exchange(run_id)
        await self._stop(exchange)
        exchange.last = exchange.snapshot(RunStatus.CANCELLED)
        return exchange.last

    async def get_reply(self, thread_id: str, run_id: str) -> str:
        return "\n\n".join(self._exchange(run_id).texts)

    async def list_steps(self, thread_id: str, run_id: str) -> list[RunStepInfo]:
        return list(self._exchange(run_id).steps)

    async def prepare_resume(
        self, thread_id: str, assistant_id: str, exchange_id: str, text: str
    ) -> None:
        await self._open(thread_id, assistant_id, exchange_id, text)

    async def find_run(
        self, thread_id: str, exchange_id: str, *, submitted: Sequence[str] = ()
    ) -> RunSnapshot | None:
        """Nothing is kept on the server: only calls still waiting for outputs (an interrupted
        exchange's, or those whose outputs did not go out) are there to be picked up."""
        exchange = self._exchanges.get(exchange_id)
        if exchange is None or not exchange.pending:
            return None
        return exchange.snapshot(RunStatus.REQUIRES_ACTION, exchange.pending)

    async def settle_run(self, thread_id: str, run_id: str) -> bool:
        exchange = self._exchanges.get(run_id)
        if exchange is not None:
            await self._stop(exchange)
            items = exchange.conversation.items
            items.extend(close_open_calls(items, exchange.id))
            exchange.pending = ()
        return True

    async def aclose(self) -> None:
        for exchange in list(self._exchanges.values()):
            await self._stop(exchange)

    # -- streaming ---------------------------------------------------------------------------

    async def stream_run(
        self,
        thread_id: str,
        assistant_id: str,
        text: str,
        *,
        exchange_id: str | None = None,
        recovering: bool = False,
    ) -> AsyncIterator[StreamItem]:
        exchange = await self._open(thread_id, assistant_id, exchange_id, text)
        await self._stop(exchange)
        async with aclosing(self._streamed(exchange)) as items:
            async for item in items:
                yield item

    async def stream_tool_outputs(
        self, thread_id: str, run_id: str, results: Sequence[ToolResult]
    ) -> AsyncIterator[StreamItem]:
        exchange = self._exchange(run_id)
        exchange.answer(results)
        await self._stop(exchange)
        async with aclosing(self._streamed(exchange)) as items:
            async for item in items:
                yield item

    async def _streamed(self, exchange: Exchange) -> AsyncGenerator[StreamItem, None]:
        request = self._request(exchange)
        exchange.last = None
        events = self._plain_as_stream(request) if self._plain_only else self._stream(request)
        async with aclosing(events):
            try:
                async for event in events:
                    if isinstance(event, RunStatus):
                        yield exchange.snapshot(event)
                    elif isinstance(event, TextDelta):
                        yield TextDelta(exchange.id, event.text)
                    else:
                        yield exchange.fold(event)
            except (BackendBadRequestError, BackendUnprocessableError) as exc:
                if self._plain_only or "stream" not in exc.message.lower():
                    raise
                # Refused before anything was streamed: the server cannot stream. Plain
                # requests from now on, this one included (nothing of it was kept).
                logger.warning("the server cannot stream (%s): sending plain requests", exc)
                self._plain_only = True
                async with aclosing(self._streamed(exchange)) as plain:
                    async for item in plain:
                        yield item

    async def _plain_as_stream(self, request: Request) -> AsyncGenerator[StreamEvent, None]:
        """A plain request told as a stream: taken, in progress, the reply whole."""
        yield RunStatus.QUEUED
        yield RunStatus.IN_PROGRESS
        outcome = await self._send(request)
        for text in outcome.texts:
            yield TextDelta("", text)
        yield outcome
