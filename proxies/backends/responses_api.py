"""The Responses API with Conversations: the protocol OpenAI serves since the Assistants API
was retired (2026-08-26), behind the same `Backend` contract.

Mapping onto the toolkit's vocabulary:
- a Conversation is the thread;
- the toolkit's *run* is one exchange (the mediator's exchange id) spanning the responses it
  takes: the first answers the user's message, each later one carries tool outputs;
- a completed response whose output holds `function_call` items is reported as
  `requires_action`; submitting outputs creates the next response in the same conversation;
- responses run in background mode, so they can be polled, resumed after a dropped stream
  and cancelled;
- model, instructions and tools come from the stored assistant definition (the Responses
  API has no assistant object), looked up in an `AssistantCatalog`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Final

from openai import AsyncOpenAI, AsyncStream, RequestOptions
from openai.types.responses import Response

from proxies.backends.base import (
    AssistantCatalog,
    AssistantDefinition,
    Backend,
    RunError,
    RunSnapshot,
    RunStatus,
    RunStepInfo,
    StreamItem,
    TextDelta,
    Usage,
)
from proxies.backends.clients import SharedClient
from proxies.backends.responses_recovery import (
    attempt_outcome,
    close_open_calls,
    ensure_free,
    items_after,
)
from proxies.backends.sdk_errors import call_sdk, sdk_errors
from proxies.backends.usage import usage_from_sdk
from proxies.errors import BackendError, BackendNotFoundError, BackendServerError
from tools.types import ToolCall, ToolResult

# Exchanges are tracked in memory; old finished ones are forgotten beyond this many.
_MAX_EXCHANGES = 256


@dataclass
class _Exchange:
    """What the backend remembers of one exchange: its responses, texts, tool calls."""

    id: str
    conversation_id: str
    definition: AssistantDefinition
    response_id: str = ""
    text: str = ""  # the user's message, to recognise it in the conversation after a failure
    # A create request was sent and no response of it has been seen yet: its outcome is open.
    fresh: bool = False
    # The request going out follows one whose outcome stayed open: the earlier may have
    # finished meanwhile, which is checked once the new one exists (`_unless_done_before`).
    recovering: bool = False
    submitted: tuple[str, ...] = ()  # the calls whose outputs the current request carries
    sequence: int | None = None  # the last stream event seen: where a resumed stream goes on
    seen: set[str] = field(default_factory=set)  # responses whose output was recorded
    texts: list[str] = field(default_factory=list)
    steps: list[RunStepInfo] = field(default_factory=list)
    # The function calls each completed response asked for, by response id.
    calls: dict[str, tuple[ToolCall, ...]] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    # The sum of the usage of every response of the exchange, each counted once.
    usage: Usage | None = None
    counted: set[str] = field(default_factory=set)  # responses whose usage is in `usage`


def _tools(definition: AssistantDefinition) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "name": schema["name"],
            "description": schema.get("description", ""),
            "parameters": schema.get("parameters", {"type": "object", "properties": {}}),
            "strict": False,
        }
        for schema in definition.tools
    ]


def _status(response: Response) -> RunStatus:
    status = response.status or "in_progress"
    if status == "completed":
        has_calls = any(item.type == "function_call" for item in response.output)
        return RunStatus.REQUIRES_ACTION if has_calls else RunStatus.COMPLETED
    return RunStatus(status)


def _error(response: Response) -> RunError | None:
    if response.error is not None:
        return RunError(code=str(response.error.code), message=response.error.message)
    if response.incomplete_details is not None:
        reason = response.incomplete_details.reason or "unknown"
        return RunError(code=reason, message=f"the response ended incomplete ({reason})")
    return None


class ResponsesBackend(Backend):
    """`Backend` for the Responses + Conversations protocol."""

    name = "responses"
    supports_streaming = True
    supports_resume = True
    runs_are_exchanges = True
    usage_per_response = True

    def __init__(self, client: SharedClient, catalog: AssistantCatalog) -> None:
        self._clients = client
        self._catalog = catalog
        self._exchanges: OrderedDict[str, _Exchange] = OrderedDict()
        self._definitions: dict[str, AssistantDefinition] = {}
        # The newest conversation item this backend has seen, per conversation: what a
        # response whose reply was lost added comes after it.
        self._known_item: dict[str, str] = {}
        # Whether the server can be asked if a conversation is free (`ensure_free`).
        self._can_ask = True

    # -- bookkeeping -----------------------------------------------------------------------

    def _exchange(self, run_id: str) -> _Exchange:
        exchange = self._exchanges.get(run_id)
        if exchange is None:
            raise BackendNotFoundError(f"No run found with id '{run_id}'.", status_code=404)
        return exchange

    async def _definition(self, assistant_id: str) -> AssistantDefinition:
        """The assistant's definition: read once per backend, in a worker thread (the catalog
        may be a database, which must never hold up the event loop) unless the catalog says
        it never blocks (``blocks = False``)."""
        definition = self._definitions.get(assistant_id)
        if definition is None:
            if getattr(self._catalog, "blocks", True):
                found = await asyncio.to_thread(self._catalog.get, assistant_id)
            else:  # an in-memory catalog: no thread hop for each new conversation
                found = self._catalog.get(assistant_id)
            if found is None:
                raise BackendNotFoundError(
                    f"No assistant definition found with id '{assistant_id}': create one with "
                    f"`python assistant_setup.py` (ASSISTANT_BACKEND=responses).",
                    status_code=404,
                )
            definition = self._definitions[assistant_id] = found
        return definition

    async def check_assistant(self, assistant_id: str) -> None:
        await self._definition(assistant_id)

    async def _new_exchange(
        self, thread_id: str, assistant_id: str, exchange_id: str | None, text: str
    ) -> _Exchange:
        if exchange_id is not None and (again := self._exchanges.get(exchange_id)) is not None:
            return again  # a new attempt of the same exchange (after an ambiguous failure)
        definition = await self._definition(assistant_id)
        # The toolkit's run on this protocol *is* the exchange: it keeps the mediator's id.
        exchange = _Exchange(exchange_id or uuid.uuid4().hex, thread_id, definition, text=text)
        self._exchanges[exchange.id] = exchange
        while len(self._exchanges) > _MAX_EXCHANGES:
            self._exchanges.popitem(last=False)
        return exchange

    def _record(self, exchange: _Exchange, response: Response) -> RunSnapshot:
        """Fold a response into the exchange (once) and describe the exchange's state."""
        exchange.response_id = response.id
        exchange.fresh = False
        status = _status(response)
        if status in (RunStatus.COMPLETED, RunStatus.REQUIRES_ACTION) and (
            response.id not in exchange.seen
        ):
            exchange.seen.add(response.id)
            self._fold_output(exchange, response)
            if response.output and response.output[-1].id:
                self._known_item[exchange.conversation_id] = response.output[-1].id
        self._count_usage(exchange, response)
        calls = exchange.calls.get(response.id, ()) if status is RunStatus.REQUIRES_ACTION else ()
        return RunSnapshot(
            run_id=exchange.id,
            thread_id=exchange.conversation_id,
            status=status,
            tool_calls=calls,
            error=_error(response),
            usage=exchange.usage,
            model=response.model or exchange.definition.model,
        )

    @staticmethod
    def _count_usage(exchange: _Exchange, response: Response) -> None:
        """Add the response's usage to the exchange's, once: a response reports it when it
        ended, whether it completed, failed or was cancelled (all of those were billed)."""
        usage = usage_from_sdk(response.usage)
        if usage is None or response.id in exchange.counted:
            return
        exchange.counted.add(response.id)
        exchange.usage = usage if exchange.usage is None else exchange.usage + usage

    @staticmethod
    def _fold_output(exchange: _Exchange, response: Response) -> None:
        """Keep the response's text and tool calls (called once per response)."""
        calls: list[ToolCall] = []
        for item in response.output:
            if item.type == "function_call":
                calls.append(ToolCall(id=item.call_id, name=item.name, arguments=item.arguments))
            elif item.type == "message":
                text = "".join(part.text for part in item.content if part.type == "output_text")
                if text:
                    exchange.texts.append(text)
                    exchange.steps.append(
                        RunStepInfo(item.id or "", "message_creation", "completed", text[:200])
                    )
        exchange.calls[response.id] = tuple(calls)

    def _request(self, exchange: _Exchange, input_: str | list[dict[str, Any]]) -> dict[str, Any]:
        exchange.recovering = exchange.fresh
        exchange.fresh = True  # the request about to go out may be acted on unseen
        exchange.submitted = (
            tuple(
                item["call_id"] for item in input_ if isinstance(item, dict) and "call_id" in item
            )
            if isinstance(input_, list)
            else ()
        )
        definition = exchange.definition
        return {
            "model": definition.model,
            "instructions": definition.instructions,
            "input": input_,
            "tools": _tools(definition),
            "conversation": exchange.conversation_id,
            "background": True,
            "store": True,
        }

    def _outputs_input(
        self, exchange: _Exchange, results: Sequence[ToolResult]
    ) -> list[dict[str, Any]]:
        outputs = {r.call_id: r.output for r in results}
        for call in exchange.calls.get(exchange.response_id, ()):
            if call.id in outputs and call.id not in exchange.outputs:
                exchange.outputs[call.id] = outputs[call.id]
                detail = f"{call.name}({call.arguments}) -> {outputs[call.id]}"
                exchange.steps.append(RunStepInfo(call.id, "tool_calls", "completed", detail))
        return [
            {"type": "function_call_output", "call_id": r.call_id, "output": r.output}
            for r in results
        ]

    @property
    def _client(self) -> AsyncOpenAI:
        return self._clients.get()

    # -- Backend ----------------------------------------------------------------------------

    async def create_assistant(self, definition: AssistantDefinition) -> str:
        return self._catalog.save(definition)

    async def create_thread(self) -> str:
        conversation = await call_sdk(lambda: self._client.conversations.create())
        return conversation.id

    @property
    def _posts(self) -> AsyncOpenAI:
        """For requests that create something: no blind SDK retries (the proxy reconciles)."""
        return self._clients.get(retries=False)

    # The request body is sent as built (`_request` makes plain JSON already), through the
    # client's public `post`: `responses.create` would walk the SDK's parameter types over
    # the tools and input on every request (about a tenth of an exchange's CPU).

    async def _create(self, request: dict[str, Any]) -> Response:
        return await self._posts.post("/responses", cast_to=Response, body=request, options=_BEARER)

    async def _create_stream(self, request: dict[str, Any]) -> AsyncStream[Any]:
        """The response's events as plain JSON objects: the SDK would build a pydantic model
        of every event (a quarter of an exchange's CPU), where only the text deltas and the
        lifecycle events are read, and only the lifecycle events need a `Response`."""
        return await self._posts.post(
            "/responses",
            cast_to=object,
            body={**request, "stream": True},
            options=_BEARER,
            stream=True,
            stream_cls=AsyncStream[Any],
        )

    async def start_run(
        self,
        thread_id: str,
        assistant_id: str,
        text: str,
        *,
        exchange_id: str | None = None,
        recovering: bool = False,
    ) -> RunSnapshot:
        # Nothing to reuse when recovering: a response that failed added nothing to the
        # conversation, and `find_run` adopted any that finished.
        exchange = await self._new_exchange(thread_id, assistant_id, exchange_id, text)
        if (earlier := await self._settled_before_retry(exchange, ())) is not None:
            return earlier
        request = self._request(exchange, text)
        response = await call_sdk(lambda: self._create(request))
        return await self._unless_done_before(exchange, self._record(exchange, response))

    async def get_run(self, thread_id: str, run_id: str) -> RunSnapshot:
        exchange = self._exchange(run_id)
        response = await call_sdk(lambda: self._client.responses.retrieve(exchange.response_id))
        return self._record(exchange, response)

    async def submit_tool_outputs(
        self, thread_id: str, run_id: str, results: Sequence[ToolResult]
    ) -> RunSnapshot:
        exchange = self._exchange(run_id)
        outputs = self._outputs_input(exchange, results)
        submitted = [r.call_id for r in results]
        if (earlier := await self._settled_before_retry(exchange, submitted)) is not None:
            return earlier
        request = self._request(exchange, outputs)
        response = await call_sdk(lambda: self._create(request))
        return await self._unless_done_before(exchange, self._record(exchange, response))

    async def cancel_run(self, thread_id: str, run_id: str) -> RunSnapshot:
        exchange = self._exchange(run_id)
        response = await call_sdk(lambda: self._client.responses.cancel(exchange.response_id))
        return self._record(exchange, response)

    async def get_reply(self, thread_id: str, run_id: str) -> str:
        return "\n\n".join(self._exchange(run_id).texts)

    async def list_steps(self, thread_id: str, run_id: str) -> list[RunStepInfo]:
        return list(self._exchange(run_id).steps)

    async def prepare_resume(
        self, thread_id: str, assistant_id: str, exchange_id: str, text: str
    ) -> None:
        exchange = await self._new_exchange(thread_id, assistant_id, exchange_id, text)
        exchange.fresh = True  # what the earlier process's requests did is unknown here

    async def find_run(
        self, thread_id: str, exchange_id: str, *, submitted: Sequence[str] = ()
    ) -> RunSnapshot | None:
        exchange = self._exchanges.get(exchange_id)
        if exchange is None:
            return None
        known = exchange.response_id and not exchange.response_id.startswith("recovered_")
        if not exchange.fresh and known:
            return await self.get_run(thread_id, exchange_id)  # the attempt's response is known
        return await self._finished_attempt(exchange, submitted)

    async def _settled_before_retry(
        self, exchange: _Exchange, submitted: Sequence[str]
    ) -> RunSnapshot | None:
        """Before a request that follows one whose outcome stayed open: wait (the server's
        `conversation_locked` is raised, and the proxy looks again later) while that one may
        still run, then adopt what it left. None: nothing was left, send the request.

        Looking only once the conversation is free is what keeps the step to one response:
        a response that ended is in the items by then, and one that runs cannot end between
        the look and the new request (a second model turn). A server that cannot tell is
        asked no more, and `_unless_done_before` cancels such a second response instead.
        """
        if not exchange.fresh or not self._can_ask:
            return None
        conversation_id, model = exchange.conversation_id, exchange.definition.model
        if not await ensure_free(self._posts, conversation_id, model):
            self._can_ask = False
            return None
        # Still `fresh` when nothing is found: `_unless_done_before` looks once more after the
        # request (a server that checks the input before the lock answers "free" too early).
        return await self._finished_attempt(exchange, submitted)

    async def _unless_done_before(self, exchange: _Exchange, snapshot: RunSnapshot) -> RunSnapshot:
        """`snapshot` of the response just created, unless the attempt before it (whose outcome
        stayed open) finished after all: then that one is adopted and the new one cancelled
        before it adds anything, so the conversation holds one answer, not two."""
        if not exchange.recovering:
            return snapshot
        exchange.recovering = False
        duplicate = exchange.response_id
        earlier = await self._finished_attempt(exchange, exchange.submitted)
        if earlier is None:
            return snapshot
        try:
            await call_sdk(lambda: self._client.responses.cancel(duplicate))
        except BackendError:
            pass  # it finished already; `settle_run` answers anything it left open
        return earlier

    async def _finished_attempt(
        self, exchange: _Exchange, submitted: Sequence[str]
    ) -> RunSnapshot | None:
        """The outcome of an attempt that finished unseen, read from the conversation."""
        items = await items_after(
            self._client, exchange.conversation_id, self._known_item.get(exchange.conversation_id)
        )
        outcome = attempt_outcome(
            items, text=None if submitted else exchange.text, submitted=submitted
        )
        if outcome is None:
            return None  # still running (the conversation is locked) or it never ran
        recovered = f"recovered_{outcome.newest_item}"  # no response id to be had: a name
        exchange.fresh = False
        exchange.response_id = recovered
        exchange.seen.add(recovered)
        exchange.calls[recovered] = outcome.calls
        exchange.texts.extend(outcome.texts)
        self._known_item[exchange.conversation_id] = outcome.newest_item
        status = RunStatus.REQUIRES_ACTION if outcome.calls else RunStatus.COMPLETED
        return RunSnapshot(
            exchange.id,
            exchange.conversation_id,
            status,
            outcome.calls,
            usage=exchange.usage,  # the items found carry no usage: what was seen so far
            model=exchange.definition.model,
        )

    async def settle_run(self, thread_id: str, run_id: str) -> bool:
        exchange = self._exchanges.get(run_id)
        if exchange is not None and exchange.response_id and not exchange.fresh:
            if not exchange.response_id.startswith("recovered_"):
                response_id = exchange.response_id
                response = await call_sdk(lambda: self._client.responses.retrieve(response_id))
                if _status(response).is_active:
                    response = await call_sdk(lambda: self._client.responses.cancel(response_id))
                    if _status(response).is_active:
                        return False  # cancelling: look again shortly
        # A response of an unknown attempt may still be running: closing calls then answers
        # `conversation_locked`, which the caller takes as "not yet".
        await close_open_calls(self._client, self._posts, thread_id)
        return True

    async def aclose(self) -> None:
        """Nothing to release: the HTTP client is shared (see `proxies.backends.clients`)."""

    # -- streaming --------------------------------------------------------------------------

    async def stream_run(
        self,
        thread_id: str,
        assistant_id: str,
        text: str,
        *,
        exchange_id: str | None = None,
        recovering: bool = False,
    ) -> AsyncIterator[StreamItem]:
        exchange = await self._new_exchange(thread_id, assistant_id, exchange_id, text)
        if (earlier := await self._settled_before_retry(exchange, ())) is not None:
            yield earlier
            return
        request = self._request(exchange, text)
        # aclosing: an early stop closes the inner stream now, not in the garbage collector.
        async with aclosing(self._events(exchange, lambda: self._create_stream(request))) as items:
            async for item in items:
                yield item

    async def stream_tool_outputs(
        self, thread_id: str, run_id: str, results: Sequence[ToolResult]
    ) -> AsyncIterator[StreamItem]:
        exchange = self._exchange(run_id)
        outputs = self._outputs_input(exchange, results)
        submitted = [r.call_id for r in results]
        if (earlier := await self._settled_before_retry(exchange, submitted)) is not None:
            yield earlier
            return
        request = self._request(exchange, outputs)
        async with aclosing(self._events(exchange, lambda: self._create_stream(request))) as items:
            async for item in items:
                yield item

    def resume_stream(self, thread_id: str, run_id: str) -> AsyncIterator[StreamItem]:
        """The events of the exchange's current response after the last one seen."""
        exchange = self._exchange(run_id)
        response_id = exchange.response_id
        params: dict[str, Any] = {"stream": "true"}
        if exchange.sequence is not None:
            params["starting_after"] = exchange.sequence
        return self._events(
            exchange,
            lambda: self._client.get(
                f"/responses/{response_id}",
                cast_to=object,
                options={"params": params},
                stream=True,
                stream_cls=AsyncStream[Any],
            ),
        )

    async def _events(
        self, exchange: _Exchange, open_stream: Callable[[], Awaitable[Any]]
    ) -> AsyncGenerator[StreamItem, None]:
        checking = exchange.recovering
        async with aclosing(self._raw_events(exchange, open_stream)) as events:
            async for item in events:
                if checking and isinstance(item, RunSnapshot):
                    checking = False
                    adopted = await self._unless_done_before(exchange, item)
                    if adopted is not item:
                        yield adopted
                        return  # the cancelled duplicate's stream is closed, not read on
                yield item

    async def _raw_events(
        self, exchange: _Exchange, open_stream: Callable[[], Awaitable[Any]]
    ) -> AsyncGenerator[StreamItem, None]:
        async with sdk_errors():
            stream = await open_stream()
            async with stream:
                async for event in stream:  # plain JSON objects (see `_create_stream`)
                    exchange.sequence = event.get("sequence_number", exchange.sequence)
                    kind = event.get("type")
                    if kind == "response.output_text.delta":
                        yield TextDelta(exchange.id, event["delta"])
                    elif kind in _LIFECYCLE:
                        yield self._record(exchange, self._response(event["response"]))
                    elif kind == "error":
                        raise BackendServerError(
                            str(event.get("message", "error event")), code=event.get("code")
                        )

    def _response(self, payload: dict[str, Any]) -> Response:
        """The `Response` of a lifecycle event (validated when the client is strict).

        Only the fields `_record` reads are built: the rest (the request's tools,
        instructions and settings, echoed in every lifecycle event) made building the
        nested models most of the event loop's CPU per exchange.
        """
        if self._clients.strict:
            return Response.model_validate(payload)
        return Response.construct(**{name: payload[name] for name in _READ if name in payload})


_BEARER: Final[RequestOptions] = {"security": {"bearer_auth": True}}

#: The fields of a `Response` that `ResponsesBackend._record` reads.
_READ: Final = ("id", "status", "output", "error", "incomplete_details", "usage", "model")

_LIFECYCLE = frozenset(
    {
        "response.created",
        "response.queued",
        "response.in_progress",
        "response.completed",
        "response.failed",
        "response.incomplete",
    }
)
