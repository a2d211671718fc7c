"""`AutoBackend`: the backend `ASSISTANT_BACKEND=auto` builds, chosen on first use.

Wiring is synchronous and must not talk to the network, so the choice waits for the first
call that needs the server (opening the conversation, usually): the server is probed once per
process (`proxies.backends.probe`), the richest backend it supports is built, one line says
which, and every call goes to it from then on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence

from proxies.backends.base import (
    AssistantDefinition,
    Backend,
    RunSnapshot,
    RunStepInfo,
    StreamItem,
)
from proxies.backends.clients import SharedClient
from proxies.backends.probe import ServerOffer, probe_server
from tools.types import ToolResult

__all__ = ["AutoBackend"]

logger = logging.getLogger(__name__)

#: Builds the backend for what the server offers.
Chooser = Callable[[ServerOffer], Backend]


class AutoBackend(Backend):
    """Probes the server on first use, then hands every call to the backend it chose."""

    name = "auto"
    supports_streaming = True  # every backend it may choose streams
    runs_are_exchanges = True  # and names its runs after the exchange
    usage_per_response = True  # and reports each model response's usage

    def __init__(
        self,
        client: SharedClient,
        choose: Chooser,
        announce: Callable[[str], None] | None = None,
    ) -> None:
        self._client = client
        self._choose = choose
        self._announce = announce
        self._chosen: Backend | None = None
        self._lock = asyncio.Lock()

    @property
    def chosen(self) -> Backend | None:
        """The backend in use, once the server was probed."""
        return self._chosen

    async def resolve(self) -> Backend:
        """The chosen backend (the server is probed now if it was not yet)."""
        return await self._backend()

    async def _backend(self) -> Backend:
        if self._chosen is None:
            async with self._lock:
                if self._chosen is None:
                    offer = await probe_server(self._client)
                    chosen = self._choose(offer)
                    line = (
                        f"ASSISTANT_BACKEND=auto: {self._client.base_url} offers "
                        f"{offer.describe()}; using the {chosen.name} backend."
                    )
                    logger.info("%s", line)
                    if self._announce is not None:
                        self._announce(line)
                    self.name = chosen.name
                    self.supports_resume = chosen.supports_resume
                    self.runs_are_exchanges = chosen.runs_are_exchanges
                    self.usage_per_response = chosen.usage_per_response
                    self._chosen = chosen
        return self._chosen

    async def create_assistant(self, definition: AssistantDefinition) -> str:
        return await (await self._backend()).create_assistant(definition)

    async def check_assistant(self, assistant_id: str) -> None:
        await (await self._backend()).check_assistant(assistant_id)

    async def create_thread(self) -> str:
        return await (await self._backend()).create_thread()

    async def start_run(
        self,
        thread_id: str,
        assistant_id: str,
        text: str,
        *,
        exchange_id: str | None = None,
        recovering: bool = False,
    ) -> RunSnapshot:
        backend = await self._backend()
        return await backend.start_run(
            thread_id, assistant_id, text, exchange_id=exchange_id, recovering=recovering
        )

    async def get_run(self, thread_id: str, run_id: str) -> RunSnapshot:
        return await (await self._backend()).get_run(thread_id, run_id)

    async def submit_tool_outputs(
        self, thread_id: str, run_id: str, results: Sequence[ToolResult]
    ) -> RunSnapshot:
        return await (await self._backend()).submit_tool_outputs(thread_id, run_id, results)

    async def cancel_run(self, thread_id: str, run_id: str) -> RunSnapshot:
        return await (await self._backend()).cancel_run(thread_id, run_id)

    async def get_reply(self, thread_id: str, run_id: str) -> str:
        return await (await self._backend()).get_reply(thread_id, run_id)

    async def list_steps(self, thread_id: str, run_id: str) -> list[RunStepInfo]:
        return await (await self._backend()).list_steps(thread_id, run_id)

    async def aclose(self) -> None:
        if self._chosen is not None:
            await self._chosen.aclose()

    async def prepare_resume(
        self, thread_id: str, assistant_id: str, exchange_id: str, text: str
    ) -> None:
        await (await self._backend()).prepare_resume(thread_id, assistant_id, exchange_id, text)

    async def find_run(
        self, thread_id: str, exchange_id: str, *, submitted: Sequence[str] = ()
    ) -> RunSnapshot | None:
        backend = await self._backend()
        return await backend.find_run(thread_id, exchange_id, submitted=submitted)

    async def settle_run(self, thread_id: str, run_id: str) -> bool:
        return await (await self._backend()).settle_run(thread_id, run_id)

    async def stream_run(
        self,
        thread_id: str,
        assistant_id: str,
        text: str,
        *,
        exchange_id: str | None = None,
        recovering: bool = False,
    ) -> AsyncIterator[StreamItem]:
        backend = await self._backend()
        stream = backend.stream_run(
            thread_id, assistant_id, text, exchange_id=exchange_id, recovering=recovering
        )
        async for item in _closing(stream):
            yield item

    async def stream_tool_outputs(
        self, thread_id: str, run_id: str, results: Sequence[ToolResult]
    ) -> AsyncIterator[StreamItem]:
        backend = await self._backend()
        async for item in _closing(backend.stream_tool_outputs(thread_id, run_id, results)):
            yield item

    async def resume_stream(self, thread_id: str, run_id: str) -> AsyncIterator[StreamItem]:
        backend = await self._backend()
        async for item in _closing(backend.resume_stream(thread_id, run_id)):
            yield item


async def _closing(stream: AsyncIterator[StreamItem]) -> AsyncIterator[StreamItem]:
    """`stream`'s items; an early stop closes it now, not in the garbage collector."""
    try:
        async for item in stream:
            yield item
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
