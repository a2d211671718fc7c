"""`chat`: `POST /v1/chat/completions` with `tools`, the common ground of every
OpenAI-compatible server and gateway (vLLM, Ollama, llama.cpp, LM Studio, LiteLLM, the
Anthropic and Gemini compatibility endpoints).

The conversation is sent whole each turn (kept here: `proxies.backends.replay`), trimmed to the
token budget: the assistant's instructions as the `system` message, then user and assistant
messages; each round of function calls is an assistant message with `tool_calls` followed by
one `tool` message per call. Streamed tool calls are assembled from their deltas
(`proxies.backends.chat_deltas`). `finish_reason` says how the turn ended: `tool_calls` (or
calls with `stop`, as some servers send) is `requires_action`, `length` is `incomplete`,
`content_filter` is `failed`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Any

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionChunk

from mediator.usage import Usage
from proxies.backends.base import RunError, RunStatus, TextDelta
from proxies.backends.chat_deltas import ToolCallAssembler
from proxies.backends.history import Said, Unit
from proxies.backends.model_errors import answered
from proxies.backends.replay import Outcome, ReplayBackend, Request, StreamEvent
from proxies.backends.sdk_errors import translate
from proxies.backends.usage import usage_from_sdk
from proxies.errors import BackendConnectionError
from tools.types import ToolCall

__all__ = ["ChatCompletionsBackend", "chat_messages"]


def chat_messages(instructions: str, units: Sequence[Unit]) -> list[dict[str, Any]]:
    """The request's `messages`: system instructions, then the units in order."""
    messages: list[dict[str, Any]] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    for unit in units:
        if isinstance(unit, Said):
            messages.append({"role": unit.role, "content": unit.text})
            continue
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call.call_id,
                        "type": "function",
                        "function": {"name": call.name, "arguments": call.arguments},
                    }
                    for call in unit.calls
                ],
            }
        )
        messages.extend(
            {"role": "tool", "tool_call_id": output.call_id, "content": output.output}
            for output in unit.outputs
        )
    return messages


def _tools(tools: Sequence[dict[str, object]]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {
                "name": schema["name"],
                "description": schema.get("description", ""),
                "parameters": schema.get("parameters", {"type": "object", "properties": {}}),
            },
        }
        for schema in tools
    ]


def _ending(
    finish_reason: str | None,
    texts: tuple[str, ...],
    calls: tuple[ToolCall, ...],
    usage: Usage | None = None,
) -> Outcome:
    """The turn's outcome from its `finish_reason`."""
    if finish_reason == "length":
        error = RunError("max_output_tokens", "the reply was cut at the token limit (length)")
        return Outcome(RunStatus.INCOMPLETE, texts=texts, error=error, usage=usage)
    if finish_reason == "content_filter":
        error = RunError("content_filter", "the reply was withheld by the content filter")
        return Outcome(RunStatus.FAILED, error=error, usage=usage)
    return Outcome(RunStatus.COMPLETED, texts=texts, calls=calls, usage=usage)


class ChatCompletionsBackend(ReplayBackend):
    """`Backend` over `POST /v1/chat/completions`, the conversation replayed each turn."""

    name = "chat"

    @property
    def _posts(self) -> AsyncOpenAI:
        return self._clients.get(retries=False)

    @staticmethod
    def _kwargs(request: Request) -> dict[str, Any]:
        definition = request.definition
        kwargs: dict[str, Any] = {
            "model": definition.model,
            "messages": chat_messages(definition.instructions, request.units),
        }
        if definition.tools:
            kwargs["tools"] = _tools(definition.tools)
        return kwargs

    async def _send(self, request: Request) -> Outcome:
        completion = await answered(
            lambda: self._posts.chat.completions.create(**self._kwargs(request))
        )
        if isinstance(completion, RunError):
            return Outcome(RunStatus.FAILED, error=completion)
        if not completion.choices:
            error = RunError("server_error", "the server answered with no choices")
            return Outcome(RunStatus.FAILED, error=error)
        choice = completion.choices[0]
        message = choice.message
        calls = tuple(
            ToolCall(id=call.id, name=call.function.name, arguments=call.function.arguments)
            for call in message.tool_calls or ()
            if call.type == "function"
        )
        texts = (message.content,) if message.content else ()
        return _ending(choice.finish_reason, texts, calls, usage_from_sdk(completion.usage))

    async def _stream(self, request: Request) -> AsyncGenerator[StreamEvent, None]:
        stream = await answered(
            lambda: self._posts.chat.completions.create(
                **self._kwargs(request), stream=True, stream_options={"include_usage": True}
            )
        )
        if isinstance(stream, RunError):
            yield Outcome(RunStatus.FAILED, error=stream)
            return
        yield RunStatus.QUEUED  # the server took the request
        turn = _StreamedTurn()
        async with stream:
            try:
                async for chunk in stream:
                    for event in turn.take(chunk):
                        yield event
            except openai.OpenAIError as exc:
                if type(exc) is not openai.APIError:  # a status, a broken connection
                    raise translate(exc) from exc
                # An error event inside the stream: the server says the model failed.
                turn.failed = RunError(str(exc.code or "server_error"), exc.message)
        yield turn.outcome()


class _StreamedTurn:
    """One streamed answer as its chunks arrive: text, tool calls, how it ended."""

    def __init__(self) -> None:
        self.started = False
        self.text: list[str] = []
        self.calls = ToolCallAssembler()
        self.finish: str | None = None
        self.failed: RunError | None = None
        self.usage: Usage | None = None  # in the last chunk, which has no choices

    def take(self, chunk: ChatCompletionChunk) -> list[StreamEvent]:
        """Fold one chunk in; what to tell the proxy of it."""
        events: list[StreamEvent] = []
        if chunk.usage is not None:
            self.usage = usage_from_sdk(chunk.usage)
        if not self.started:
            self.started = True
            events.append(RunStatus.IN_PROGRESS)
        for choice in chunk.choices[:1]:
            delta = choice.delta
            if delta.content:
                self.text.append(delta.content)
                events.append(TextDelta("", delta.content))
            for call in delta.tool_calls or ():
                self.calls.add(call)
            self.finish = choice.finish_reason or self.finish
        return events

    def outcome(self) -> Outcome:
        if self.failed is not None:
            return Outcome(RunStatus.FAILED, error=self.failed)
        if self.finish is None:
            raise BackendConnectionError("the stream ended before the model finished")
        texts = ("".join(self.text),) if self.text else ()
        return _ending(self.finish, texts, self.calls.calls(), self.usage)
