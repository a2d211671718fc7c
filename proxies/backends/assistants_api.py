"""The Assistants v2 wire protocol (threads, messages, runs, run steps) over `AsyncOpenAI`.

OpenAI retired this protocol on 2026-08-26; compatible servers and the toolkit's own emulator
still speak it. All SDK types stop here: the Assistant Proxy sees only `RunSnapshot`s.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from typing import Any, TypeVar

from openai import AsyncOpenAI
from openai.resources.beta.threads import AsyncThreads
from openai.types.beta.threads import Message, Run
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
# Most runs whose streamed reply is kept until asked for (one per conversation in flight).
_STREAMED_RUNS = 256


class _StreamedReply:
    """What a run's streams delivered of its reply, whole (``thread.message.completed``).

    Kept only while every stream of the run was read without a break, from the one that
    created it: then, once the run completed, its reply is known without listing the thread's
    messages (one request fewer per exchange). Anything else (a broken stream, a run first seen
    by polling, a server that never sends the completed messages) leaves the listing to do.
    """

    __slots__ = ("complete", "texts")

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.complete = False


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
        self._streamed: OrderedDict[str, _StreamedReply] = OrderedDict()

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
        streamed = self._streamed.pop(run_id, None)
        if streamed is not None and streamed.complete and streamed.texts:
            return "\n\n".join(streamed.texts)
        texts: list[str] = []
        async with sdk_errors():
            async for message in self._threads.messages.list(
                thread_id, run_id=run_id, order="asc", limit=_PAGE_LIMIT
            ):
                texts.extend(_reply_texts(message))
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
                ),
                run_id=None,
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
            ),
            run_id=run_id,
        )

    async def _stream(
        self, open_stream: Callable[[], Awaitable[Any]], *, run_id: str | None
    ) -> AsyncGenerator[StreamItem, None]:
        """The run's events as `StreamItem`s; `run_id` None for the stream that creates it."""
        watch = _ReplyWatch(self._streamed, run_id)
        try:
            async with sdk_errors():
                stream = await open_stream()
                async with stream:
                    async for event in stream:
                        for item in _items(event, watch):
                            yield item
                        # After the final snapshot the server sends `done` and closes; the
                        # stream is read to its end so no half-read response is left behind.
        except BaseException:
            watch.broke()
            raise


def _reply_texts(message: Message) -> list[str]:
    """The text blocks of `message` if the assistant wrote it (the reply), else none."""
    if message.role != "assistant":
        return []
    return [block.text.value for block in message.content if block.type == "text"]


def _items(event: Any, watch: _ReplyWatch) -> list[StreamItem]:
    """What one stream event says, for the proxy (and for `watch`)."""
    name: str = event.event
    if name.startswith("thread.run.") and not name.startswith("thread.run.step"):
        snapshot = snapshot_from_run(event.data)
        watch.saw_run(snapshot)
        return [snapshot]
    if name == "thread.message.delta":
        return [
            TextDelta(watch.run_id, block.text.value)
            for block in event.data.delta.content or []
            if block.type == "text" and block.text and block.text.value
        ]
    if name == "thread.message.completed":
        watch.saw_message(event.data)
    elif name == "error":
        raise BackendServerError(event.data.message, code=event.data.code)
    return []


class _ReplyWatch:
    """Keeps a run's reply as one of its streams delivers it (see `_StreamedReply`)."""

    __slots__ = ("_kept", "_new", "_reply", "_settled", "run_id")

    def __init__(self, kept: OrderedDict[str, _StreamedReply], run_id: str | None) -> None:
        self._kept = kept
        self._new = run_id is None  # the stream creating the run: its reply starts here
        self.run_id = run_id or ""
        # A later stream adds to what the earlier ones kept (nothing, if one of them broke).
        self._reply = None if run_id is None else kept.get(run_id)
        self._settled = False  # the run's last status: waiting for outputs, or ended

    def saw_run(self, snapshot: RunSnapshot) -> None:
        if self._new and not self.run_id:
            self._reply = self._kept[snapshot.run_id] = _StreamedReply()
            while len(self._kept) > _STREAMED_RUNS:  # runs never asked for (cancelled)
                self._kept.popitem(last=False)
        self.run_id = snapshot.run_id
        self._settled = not snapshot.status.is_active
        if self._reply is not None and snapshot.status.is_terminal:
            self._reply.complete = snapshot.status is RunStatus.COMPLETED

    def saw_message(self, message: Any) -> None:
        if self._reply is not None:
            self._reply.texts.extend(_reply_texts(message))

    def broke(self) -> None:
        """The stream ended in an error. Before the run settled, its messages are not known
        whole: they are listed when asked for. (After, nothing of the reply is missing.)"""
        if self.run_id and not self._settled:
            self._kept.pop(self.run_id, None)
