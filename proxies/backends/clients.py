"""One `AsyncOpenAI` per (base URL, key, options) and event loop, shared by every conversation.

Building a client costs about 50 ms of CPU and most of a megabyte (its TLS context and
connection pool), so a process serving many conversations must not build one each. An httpx
connection pool belongs to the event loop that opened its connections, so the sharing is per
running loop: one loop (an app, a server) shares one client; a test's short-lived loop gets
its own, forgotten with the loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import weakref
from dataclasses import dataclass

from openai import AsyncOpenAI

__all__ = ["ClientOptions", "SharedClient", "shared_client"]


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Everything that makes two clients different."""

    api_key: str
    base_url: str | None
    max_retries: int
    timeout_s: float
    strict: bool

    def key(self) -> tuple[str, str | None, int, float, bool]:
        # The key is hashed so the registry below never holds it in the clear twice.
        digest = hashlib.sha256(self.api_key.encode()).hexdigest()
        return (digest, self.base_url, self.max_retries, self.timeout_s, self.strict)


class SharedClient:
    """Hands out the client for the current event loop, building it on first use there."""

    def __init__(self, options: ClientOptions) -> None:
        self._options = options
        self._by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[AsyncOpenAI, AsyncOpenAI]
        ] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    @property
    def strict(self) -> bool:
        """True when the SDK validates responses strictly (tests against the emulator)."""
        return self._options.strict

    @property
    def base_url(self) -> str:
        """The server's address, fit to show (OpenAI's when none was given)."""
        return self._options.base_url or "https://api.openai.com/v1"

    def get(self, *, retries: bool = True) -> AsyncOpenAI:
        """The client for the running loop (call from async code).

        `retries=False` gives the same client without the SDK's own retries: for POSTs that
        create something, which must never be re-sent blind (the server may have acted on the
        first; the Assistant Proxy looks before it retries).
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            pair = self._by_loop.get(loop)
            if pair is None:
                options = self._options
                client = AsyncOpenAI(
                    api_key=options.api_key,
                    base_url=options.base_url,
                    max_retries=options.max_retries,
                    timeout=options.timeout_s,
                    _strict_response_validation=options.strict,
                )
                pair = self._by_loop[loop] = (client, client.with_options(max_retries=0))
            return pair[0] if retries else pair[1]

    async def aclose(self) -> None:
        """Close this loop's client (the next `get` in this loop builds a new one)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            pair = self._by_loop.pop(loop, None)
        if pair is not None:
            await pair[0].close()  # the no-retry copy shares its HTTP client


_registry: dict[tuple[str, str | None, int, float, bool], SharedClient] = {}
_registry_lock = threading.Lock()


def shared_client(options: ClientOptions) -> SharedClient:
    """The process's `SharedClient` for `options`."""
    key = options.key()
    with _registry_lock:
        found = _registry.get(key)
        if found is None:
            found = _registry[key] = SharedClient(options)
        return found
