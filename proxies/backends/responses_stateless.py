"""`responses-stateless`: `POST /v1/responses` alone, for servers that keep no conversation.

Ollama, vLLM (without its store), llama.cpp and most gateways answer `/v1/responses` but keep
no Conversations and run nothing in the background. This backend sends `store: false` and the
conversation replayed as input items each turn (messages, and `function_call` items each
followed by its `function_call_output`), trimmed to the token budget; streamed, or as plain
requests. What is shared with the `chat` backend (the conversation kept here, local runs) is
in `proxies.backends.replay`.

Where the server keeps responses (LM Studio, SGLang, vLLM with its store), `chain=True`
stores each response and sends only what is new with `previous_response_id`. If the chain
breaks (the server restarted and forgot), the request is sent again as a replay and the chain
starts afresh from its answer; a server that breaks it twice in a row is not chained again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import openai
from openai import AsyncOpenAI
from openai.types.responses import Response

from proxies.backends.base import AssistantCatalog, RunError, RunStatus, TextDelta
from proxies.backends.budget import ContextBudget
from proxies.backends.clients import SharedClient
from proxies.backends.history import Called, HistoryItem, HistorySource, Said, Unit
from proxies.backends.model_errors import answered
from proxies.backends.replay import Outcome, ReplayBackend, Request, StreamEvent
from proxies.backends.sdk_errors import sdk_errors
from proxies.backends.usage import usage_from_sdk
from proxies.errors import BackendConnectionError
from tools.types import ToolCall

__all__ = ["StatelessResponsesBackend", "input_items"]

logger = logging.getLogger(__name__)

#: Chain breaks in a row after which the server is taken not to keep responses at all.
_BREAKS_TO_STOP_CHAINING = 2


def _chain_broken(exc: openai.APIStatusError) -> bool:
    body = exc.body if isinstance(exc.body, dict) else {}
    return exc.status_code in (400, 404) and (
        exc.code == "previous_response_not_found" or body.get("param") == "previous_response_id"
    )


def _item(item: HistoryItem) -> dict[str, Any]:
    if isinstance(item, Said):
        return {"role": item.role, "content": item.text}
    if isinstance(item, Called):
        return {
            "type": "function_call",
            "call_id": item.call_id,
            "name": item.name,
            "arguments": item.arguments,
        }
    return {"type": "function_call_output", "call_id": item.call_id, "output": item.output}


def input_items(units: Sequence[Unit]) -> list[dict[str, Any]]:
    """Units as Responses input items: each round's calls, then their outputs."""
    items: list[dict[str, Any]] = []
    for unit in units:
        if isinstance(unit, Said):
            items.append(_item(unit))
        else:
            items.extend(_item(call) for call in unit.calls)
            items.extend(_item(output) for output in unit.outputs)
    return items


def _tools(tools: Sequence[dict[str, object]]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "name": schema["name"],
            "description": schema.get("description", ""),
            "parameters": schema.get("parameters", {"type": "object", "properties": {}}),
            "strict": False,
        }
        for schema in tools
    ]


def _error(response: Response) -> RunError | None:
    if response.error is not None:
        return RunError(code=str(response.error.code), message=response.error.message)
    if response.incomplete_details is not None:
        reason = response.incomplete_details.reason or "unknown"
        return RunError(code=reason, message=f"the response ended incomplete ({reason})")
    return None


class StatelessResponsesBackend(ReplayBackend):
    """`Backend` over `POST /v1/responses` with the history replayed (or chained)."""

    name = "responses-stateless"

    def __init__(
        self,
        client: SharedClient,
        catalog: AssistantCatalog,
        *,
        history: HistorySource | None = None,
        budget: ContextBudget | None = None,
        chain: bool = False,
    ) -> None:
        super().__init__(client, catalog, history=history, budget=budget)
        self._chaining = chain
        self._breaks = 0

    @property
    def chaining(self) -> bool:
        """True while responses are chained with `previous_response_id`."""
        return self._chaining

    @property
    def _posts(self) -> AsyncOpenAI:
        return self._clients.get(retries=False)

    def _kwargs(self, request: Request, *, chained: bool) -> dict[str, Any]:
        definition = request.definition
        kwargs: dict[str, Any] = {
            "model": definition.model,
            "instructions": definition.instructions,
            "tools": _tools(definition.tools),
            "store": self._chaining,
        }
        if chained and self._chaining and request.chain_from is not None:
            kwargs["previous_response_id"] = request.chain_from
            kwargs["input"] = [_item(item) for item in request.since_chain]
        else:
            kwargs["input"] = input_items(request.units)
        return kwargs

    def _outcome(self, response: Response) -> Outcome:
        texts: list[str] = []
        calls: list[ToolCall] = []
        for item in response.output:
            if item.type == "function_call":
                calls.append(ToolCall(id=item.call_id, name=item.name, arguments=item.arguments))
            elif item.type == "message":
                text = "".join(part.text for part in item.content if part.type == "output_text")
                if text:
                    texts.append(text)
        status = response.status or "completed"
        known = {
            "completed": RunStatus.COMPLETED,
            "incomplete": RunStatus.INCOMPLETE,
            "cancelled": RunStatus.CANCELLED,
        }
        return Outcome(
            status=known.get(status, RunStatus.FAILED),
            texts=tuple(texts),
            calls=tuple(calls),
            error=_error(response),
            response_id=response.id if self._chaining else None,
            usage=usage_from_sdk(response.usage),
        )

    def _broke(self, request: Request, exc: openai.APIStatusError) -> bool:
        """True when `exc` says the chain `request` relied on is gone (then replay)."""
        if request.chain_from is None or not self._chaining or not _chain_broken(exc):
            return False
        self._breaks += 1
        logger.warning(
            "the server no longer has response %s (%s); replaying the conversation",
            request.chain_from,
            exc.message,
        )
        if self._breaks >= _BREAKS_TO_STOP_CHAINING:
            logger.warning("the server does not keep responses: replaying from now on")
            self._chaining = False
        return True

    async def _create(self, request: Request, **extra: Any) -> Any:
        """`responses.create`, chained when it can be, replayed when the chain broke."""
        chained = True
        while True:
            try:
                answer = await self._posts.responses.create(
                    **self._kwargs(request, chained=chained), **extra
                )
            except openai.APIStatusError as exc:
                if chained and self._broke(request, exc):
                    chained = False
                    continue
                raise
            if chained and request.chain_from is not None and self._chaining:
                self._breaks = 0
            return answer

    async def _send(self, request: Request) -> Outcome:
        response = await answered(lambda: self._create(request))
        if isinstance(response, RunError):
            return Outcome(RunStatus.FAILED, error=response)
        return self._outcome(response)

    async def _stream(self, request: Request) -> AsyncGenerator[StreamEvent, None]:
        stream = await answered(lambda: self._create(request, stream=True))
        if isinstance(stream, RunError):
            yield Outcome(RunStatus.FAILED, error=stream)
            return
        yield RunStatus.QUEUED  # the server took the request
        final: Outcome | None = None
        started = False
        async with sdk_errors(), stream:
            async for event in stream:
                if event.type == "response.output_text.delta":
                    yield TextDelta("", event.delta)
                elif event.type in _STARTED and not started:
                    started = True
                    yield RunStatus.IN_PROGRESS
                elif event.type in _TERMINAL:
                    final = self._outcome(event.response)
                elif event.type == "error":
                    final = Outcome(
                        RunStatus.FAILED, error=RunError(str(event.code), event.message)
                    )
        if final is None:
            raise BackendConnectionError("the stream ended before the response did")
        yield final


_STARTED = frozenset({"response.created", "response.in_progress"})
_TERMINAL = frozenset({"response.completed", "response.failed", "response.incomplete"})
