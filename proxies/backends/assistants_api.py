"""The Assistants v2 wire protocol (threads, messages, runs, run steps) over `AsyncOpenAI`.

OpenAI retired this protocol on 2026-08-26; compatible servers and the toolkit's own emulator
still speak it. All SDK types stop here: the Assistant Proxy sees only `RunSnapshot`s.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from typing import Any, TypeVar

from openai import AsyncOpenAI
from openai.resources.beta.threads import AsyncThreads
from openai.types.beta.threads import Run
from openai.types.beta.threads.runs import RunStep

from proxies.backends.base import (
    AssistantDefinition,
    Backend,
    RunError,
    RunSnapshot,
    RunStatus,
    RunStepInfo,
    StreamItem,
    TextDelta,
)
from proxies.backends.clients import SharedClient
from proxies.backends.sdk_errors import call_sdk, sdk_errors
from proxies.backends.usage import usage_from_sdk
from proxies.errors import BackendServerError
from tools.types import ToolCall, ToolResult

_T = TypeVar("_T")

# Enough for a long exchange; each page is one request, so keep the page size at the maximum.
_PAGE_LIMIT = 100
# How far back reconciliation looks for what an attempt of this exchange created.
_RECENT = 20


def snapshot_from_run(run: Run, *, poll_after_s: float | None = None) -> RunSnapshot:
    """Convert an SDK `Run` into the toolkit's `RunSnapshot`."""
    calls: tuple[ToolCall, ...] = ()
    if run.status == "requires_action" and run.required_action is not None:
        calls = tuple(
            ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments)
            for c in run.required_action.submit_tool_outputs.tool_calls
        )
    error: RunError | None = None
    if run.last_error is not None:
        error = RunError(code=run.last_error.code, message=run.last_error.message)
    elif run.incomplete_details is not None:
        reason = run.incomplete_details.reason or "unknown"
        error = RunError(code=reason, message=f"the run ended incomplete ({reason})")
    return RunSnapshot(
        run_id=run.id,
        thread_id=run.thread_id,
        status=RunStatus(run.status),
        tool_calls=calls,
        error=error,
        # The API reports a run's usage once it ended (null before): all its model calls.
        usage=usage_from_sdk(run.usage),
        model=run.model or None,
        poll_after_s=poll_after_s,
    )


def _poll_after(headers: Any) -> float | None:
    raw = headers.get("openai-poll-after-ms")
    if raw is None:
        return None
    try:
        return max(int(raw), 0) / 1000.0
    except ValueError:
        return None


def _describe_step(step: RunStep) -> str:
    details = step.step_details
    if details.type == "message_creation":
        return f"message {details.message_creation.message_id}"
    parts = []
    for call in details.tool_calls:
        if call.type == "function":
            fn = call.function
            parts.append(f"{fn.name}({fn.arguments}) -> {fn.output}")
        else:
            parts.append(call.type)
    return "; ".join(parts)


def _tag(exchange_id: str | None) -> dict[str, str]:
    """Metadata naming the exchange, so what an attempt created can be found again."""
    return {"exchange_id": exchange_id} if exchange_id else {}


class AssistantsBackend(Backend):
    """`Backend` for servers speaking the Assistants v2 protocol."""

    name = "assistants"
    supports_streaming = True

    def __init__(self, client: SharedClient) -> None:
        self._clients = client

    @property
    def _client(self) -> AsyncOpenAI:
        return self._clients.get()

    @property
    def _threads(self) -> AsyncThreads:
        return self._client.beta.threads

    @property
    def _posts(self) -> AsyncThreads:
        """For requests that create something: no blind SDK retries (the proxy reconciles)."""
        return self._clients.get(retries=False).beta.threads

    async def _add_message(
        self, thread_id: str, text: str, exchange_id: str | None, recovering: bool
    ) -> None:
        """Add the user's message, unless a recovering attempt finds it already added."""
        if recovering and exchange_id and await self._find_message(thread_id, exchange_id):
            return
        tag = _tag(exchange_id)
        await call_sdk(
            lambda: self._posts.messages.create(thread_id, role="user", content=text, metadata=tag)
        )

    async def _find_message(self, thread_id: str, exchange_id: str) -> bool:
        page = await call_sdk(
            lambda: self._threads.messages.list(thread_id, order="desc", limit=_RECENT)
        )
        return any((m.metadata or {}).get("exchange_id") == exchange_id for m in page.data)

    async def create_assistant(self, definition: AssistantDefinition) -> str:
        tools = [
            {
                "type": "function",
                "function": {k: v for k, v in schema.items() if k != "type"},
            }
            for schema in definition.tools
        ]
        assistant = await call_sdk(
            lambda: self._client.beta.assistants.create(
                model=definition.model,
                name=definition.name,
                instructions=definition.instructions,
                tools=tools,  # type: ignore[arg-type]
            )
        )
        return assistant.id

    async def check_assistant(self, assistant_id: str) -> None:
        def retrieve() -> Any:
            # The SDK marks this method "deprecated" with no more words than that (the whole
            # protocol is retired by OpenAI, still served by compatible servers and ours).
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                return self._client.beta.assistants.retrieve(assistant_id)

        await call_sdk(retrieve)

    async def create_thread(self) -> str:
        thread = await call_sdk(lambda: self._threads.create())
        return thread.id

    async def start_run(
        self,
        thread_id: str,
        assistant_id: str,
        text: str,
        *,
        exchange_id: str | None = None,
        recovering: bool = False,
    ) -> RunSnapshot:
        await self._add_message(thread_id, text, exchange_id, recovering)
        runs = self._posts.runs
        tag = _tag(exchange_id)
        run = await call_sdk(
            lambda: runs.create(thread_id, assistant_id=assistant_id, metadata=tag)
        )
        return snapshot_from_run(run)

    async def find_run(
        self, thread_id: str, exchange_id: str, *, submitted: Sequence[str] = ()
    ) -> RunSnapshot | None:
        page = await call_sdk(
            lambda: self._threads.runs.list(thread_id, order="desc", limit=_RECENT)
        )
        for run in page.data:
            if (run.metadata or {}).get("exchange_id") == exchange_id:
                return await self.get_run(thread_id, run.id)
        return None

    async def get_run(self, thread_id: str, run_id: str) -> RunSnapshot:
        raw = await call_sdk(
            lambda: self._threads.runs.with_raw_response.retrieve(run_id, thread_id=thread_id)
        )
        async with sdk_errors():
            run = raw.parse()
        return snapshot_from_run(run, poll_after_s=_poll_after(raw.headers))

    async def submit_tool_outputs(
        self, thread_id: str, run_id: str, results: Sequence[ToolResult]
    ) -> RunSnapshot:
        outputs = [{"tool_call_id": r.call_id, "output": r.output} for r in results]
        run = await call_sdk(
            lambda: self._posts.runs.submit_tool_outputs(
                run_id,
                thread_id=thread_id,
                tool_outputs=outputs,  # type: ignore[arg-type]
            )
        )
        return snapshot_from_run(run)

    async def cancel_run(self, thread_id: str, run_id: str) -> RunSnapshot:
        run = await call_sdk(lambda: self._threads.runs.cancel(run_id, thread_id=thread_id))
        return snapshot_from_run(run)

    async def get_reply(self, thread_id: str, run_id: str) -> str:
        texts: list[str] = []
        async with sdk_errors():
            async for message in self._threads.messages.list(
                thread_id, run_id=run_id, order="asc", limit=_PAGE_LIMIT
            ):
                if message.role != "assistant":
                    continue
                texts.extend(block.text.value for block in message.content if block.type == "text")
        return "\n\n".join(texts)

    async def list_steps(self, thread_id: str, run_id: str) -> list[RunStepInfo]:
        steps: list[RunStepInfo] = []
        async with sdk_errors():
            async for step in self._threads.runs.steps.list(
                run_id, thread_id=thread_id, order="asc", limit=_PAGE_LIMIT
            ):
                steps.append(
                    RunStepInfo(
                        step_id=step.id,
                        type=step.type,
                        status=step.status,
                        detail=_describe_step(step),
                    )
                )
        return steps

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
        await self._add_message(thread_id, text, exchange_id, recovering)
        tag = _tag(exchange_id)
        # aclosing: an early stop closes the inner stream now, not in the garbage collector.
        async with aclosing(
            self._stream(
                lambda: self._posts.runs.create(
                    thread_id, assistant_id=assistant_id, stream=True, metadata=tag
                )
            )
        ) as items:
            async for item in items:
                yield item

    def stream_tool_outputs(
        self, thread_id: str, run_id: str, results: Sequence[ToolResult]
    ) -> AsyncIterator[StreamItem]:
        outputs = [{"tool_call_id": r.call_id, "output": r.output} for r in results]
        return self._stream(
            lambda: self._posts.runs.submit_tool_outputs(
                run_id,
                thread_id=thread_id,
                tool_outputs=outputs,  # type: ignore[arg-type]
                stream=True,
            )
        )

    async def _stream(
        self, open_stream: Callable[[], Awaitable[Any]]
    ) -> AsyncGenerator[StreamItem, None]:
        run_id = ""
        async with sdk_errors():
            stream = await open_stream()
            async with stream:
                async for event in stream:
                    name: str = event.event
                    if name.startswith("thread.run.") and not name.startswith("thread.run.step"):
                        snapshot = snapshot_from_run(event.data)
                        run_id = snapshot.run_id
                        yield snapshot
                        # After the final snapshot the server sends `done` and closes; the
                        # stream is read to its end so no half-read response is left behind.
                    elif name == "thread.message.delta":
                        for block in event.data.delta.content or []:
                            if block.type == "text" and block.text and block.text.value:
                                yield TextDelta(run_id, block.text.value)
                    elif name == "error":
                        raise BackendServerError(event.data.message, code=event.data.code)
