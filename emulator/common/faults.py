"""Fault injection: make chosen requests fail, slow down or lose their connection.

A test adds `Fault`s to a server's `FaultSet` (thread-safe, changeable while the server runs)::

    server.faults.add(Fault(method="POST", path=r"/threads/[^/]+/runs", status=500, times=2))

Each request takes the first active fault that matches its method and path (a regex matched
in full against the path after ``/v1``), from its `nth` matching request on. What it does:

- before the endpoint (nothing changes on the server): an error `status` with retry headers,
  `latency`, `drop_connection` (half a body, then close), `reset` (a TCP reset), `stall` (hold
  the request N seconds, or until the server stops, then close without an answer);
- after the endpoint acted (the state change happened): `drop_reply` (the answer is thrown away
  and the connection closed half-way), `cut_after_chunks` / `cut_at_byte` (a stream or body cut
  after that many chunks or bytes);
- the real API's own troubles, applied by the endpoint: `stuck_queued` (a background response
  that never leaves ``queued`` until it is cancelled or its deadline passes) and
  `conversation_locked` (``POST /responses`` answers the 400 of a conversation that has a
  response in progress).

`FaultSet.fired(fault)` counts the requests a fault hit, so a test can assert that it fired.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import re
import socket
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_envelope

__all__ = ["FAULT_SCOPE_KEY", "TRANSPORT_SCOPE_KEY", "Fault", "FaultMiddleware", "FaultSet"]

# Where the middleware leaves the fault for an endpoint, and where it finds the connection.
FAULT_SCOPE_KEY = "emulator.fault"
TRANSPORT_SCOPE_KEY = "emulator.transport"

DEFAULT_FAULT_MESSAGE = "The emulator injected this fault."
_DROP_DECLARED_LENGTH = 4096


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault.

    - `method`/`path`: which requests (None = any method; `path` is a full-match regex on the
      path after ``/v1``, e.g. ``r"/threads/[^/]+/runs"``).
    - `status`: the error status to answer with, or None to answer normally (after `latency`).
    - `times`: how many requests it hits before retiring (None = no limit).
    - `retry_after` (seconds), `retry_after_ms`, `should_retry`: the retry headers to send.
    - `latency`: seconds to wait first (without blocking other requests).
    - `drop_connection`: start a response, then close the connection mid-body (before any
      side effect: nothing was created).
    - `cut_after_chunks`: handle the request normally (side effects happen) but cut the
      connection after that many body chunks: a stream that drops half-way (SSE sends one
      chunk per event).
    - `cut_at_byte`: the same, after that many body bytes (the chunk that crosses is split).
    - `drop_reply`: handle the request normally, then close the connection without the answer.
    - `reset`: reset the connection (TCP RST) before anything happens.
    - `stall`: hold the request that many seconds (``math.inf``: until the server stops), then
      close the connection without an answer; nothing happens on the server.
    - `stuck_queued`, `conversation_locked`: see the module docstring.
    - `nth`: the first matching request it hits (1 = the first); earlier ones pass untouched.
    """

    method: str | None = None
    path: str = ".*"
    status: int | None = 500
    times: int | None = 1
    retry_after: float | None = None
    retry_after_ms: int | None = None
    should_retry: bool | None = None
    latency: float = 0.0
    drop_connection: bool = False
    cut_after_chunks: int | None = None
    cut_at_byte: int | None = None
    drop_reply: bool = False
    reset: bool = False
    stall: float | None = None
    stuck_queued: bool = False
    conversation_locked: bool = False
    nth: int = 1
    #: The share of matching requests it hits (drawn from a generator seeded with `seed`, so a
    #: test is repeatable): 0.1 with `reset` is a flaky network.
    probability: float = 1.0
    seed: int = 0
    body_message: str = DEFAULT_FAULT_MESSAGE
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_pattern", re.compile(self.path))
        if self.times is not None and self.times < 1:
            raise ValueError(f"times must be >= 1 or None, not {self.times!r}")
        if self.latency < 0:
            raise ValueError(f"latency must be >= 0, not {self.latency!r}")
        if self.cut_after_chunks is not None and self.cut_after_chunks < 0:
            raise ValueError(f"cut_after_chunks must be >= 0, not {self.cut_after_chunks!r}")
        if self.cut_at_byte is not None and self.cut_at_byte < 0:
            raise ValueError(f"cut_at_byte must be >= 0, not {self.cut_at_byte!r}")
        if self.stall is not None and not self.stall >= 0:
            raise ValueError(f"stall must be >= 0 seconds, not {self.stall!r}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"probability must be within [0, 1], not {self.probability!r}")
        if self.nth < 1:
            raise ValueError(f"nth must be >= 1, not {self.nth!r}")

    @property
    def acts_in_endpoint(self) -> bool:
        """True for the faults the endpoint applies (the request goes through)."""
        return self.stuck_queued or self.conversation_locked

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self._pattern.fullmatch(path) is not None

    def headers(self) -> list[tuple[bytes, bytes]]:
        headers = [(b"content-type", b"application/json")]
        if self.retry_after is not None:
            headers.append((b"retry-after", str(self.retry_after).encode()))
        if self.retry_after_ms is not None:
            headers.append((b"retry-after-ms", str(self.retry_after_ms).encode()))
        if self.should_retry is not None:
            headers.append((b"x-should-retry", b"true" if self.should_retry else b"false"))
        return headers

    def body(self) -> bytes:
        status = self.status or 500
        if status == 429:
            envelope = error_envelope(
                self.body_message, error_type="requests", code="rate_limit_exceeded"
            )
        elif status >= 500:
            envelope = error_envelope(self.body_message, error_type="server_error")
        else:
            envelope = error_envelope(self.body_message)
        return json.dumps(envelope).encode()


@dataclass(slots=True)
class _Slot:
    fault: Fault
    left: int | None
    fired: int = 0
    seen: int = 0
    draws: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.draws.seed(self.fault.seed)


class FaultSet:
    """The faults of one server; safe to change from any thread."""

    def __init__(self) -> None:
        self._slots: list[_Slot] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._slots.append(_Slot(fault, fault.times))
        return fault

    def remove(self, fault: Fault) -> None:
        with self._lock:
            self._slots = [slot for slot in self._slots if slot.fault is not fault]

    def clear(self) -> None:
        with self._lock:
            self._slots.clear()

    def fired(self, fault: Fault) -> int:
        """How many requests `fault` has hit so far (0 once it was removed or cleared)."""
        with self._lock:
            return sum(slot.fired for slot in self._slots if slot.fault is fault)

    @property
    def active(self) -> list[Fault]:
        with self._lock:
            return [slot.fault for slot in self._slots if slot.left != 0]

    def take(self, method: str, path: str) -> Fault | None:
        """The fault that hits this request, if any; it counts as fired."""
        with self._lock:
            for slot in self._slots:
                if slot.left != 0 and slot.fault.matches(method, path):
                    slot.seen += 1
                    if slot.seen < slot.fault.nth:
                        continue
                    if slot.fault.probability < 1 and (
                        slot.draws.random() >= slot.fault.probability
                    ):
                        continue
                    slot.fired += 1
                    if slot.left is not None:
                        slot.left -= 1
                    return slot.fault
        return None


class FaultMiddleware:
    """ASGI middleware applying a `FaultSet` to every HTTP request under `prefix`.

    `stopping` is set when the server stops; a stalled request is released then.
    """

    def __init__(
        self,
        app: ASGIApp,
        faults: FaultSet,
        prefix: str = "/v1",
        stopping: asyncio.Event | None = None,
    ) -> None:
        self.app = app
        self.faults = faults
        self.prefix = prefix
        self.stopping = stopping if stopping is not None else asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(self.prefix + "/"):
            path = path[len(self.prefix) :]
        fault = self.faults.take(scope["method"], path)
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.latency > 0:
            await asyncio.sleep(fault.latency)
        await self._apply(fault, scope, receive, send)

    async def _apply(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
        if fault.reset:
            _reset(scope)
        elif fault.stall is not None:
            await self._stall(fault.stall)
            _reset(scope)
        elif fault.drop_connection:
            await _drop_connection(send)
        elif fault.drop_reply:
            await self.app(scope, receive, _swallow)
            await _drop_connection(send)
        elif fault.cut_after_chunks is not None or fault.cut_at_byte is not None:
            await self.app(
                scope, receive, _cutting(send, fault.cut_after_chunks, fault.cut_at_byte)
            )
        elif fault.acts_in_endpoint:
            await self.app({**scope, FAULT_SCOPE_KEY: fault}, receive, send)
        elif fault.status is None:
            await self.app(scope, receive, send)
        else:
            body = fault.body()
            headers = [*fault.headers(), (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": fault.status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

    async def _stall(self, seconds: float) -> None:
        timeout = None if math.isinf(seconds) else seconds
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout)
        except TimeoutError:
            pass


class StreamCut(Exception):
    """Raised to make the server abort a response half-way (an injected fault)."""


def _cutting(send: Send, chunks: int | None, byte: int | None) -> Send:
    """A `send` that forwards `chunks` body chunks or `byte` body bytes (whichever comes first),
    then aborts the connection."""
    sent_chunks = 0
    sent_bytes = 0

    async def cut_send(message: Message) -> None:
        nonlocal sent_chunks, sent_bytes
        if message["type"] == "http.response.body":
            if chunks is not None and sent_chunks >= chunks:
                raise StreamCut(f"the emulator cut the response after {chunks} chunks")
            body: bytes = message.get("body", b"")
            if byte is not None and sent_bytes + len(body) > byte:
                head = body[: byte - sent_bytes]
                if head:
                    await send({"type": "http.response.body", "body": head, "more_body": True})
                raise StreamCut(f"the emulator cut the response at byte {byte}")
            sent_chunks += 1
            sent_bytes += len(body)
        await send(message)

    return cut_send


async def _swallow(message: Message) -> None:
    """A `send` that throws the answer away (the reply is lost after the server acted)."""


def _reset(scope: Scope) -> None:
    """Abort the request's connection with a TCP reset (SO_LINGER 0, then close)."""
    transport: Any = scope.get(TRANSPORT_SCOPE_KEY)
    if transport is None:
        raise StreamCut("the emulator resets this connection")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass  # the client is gone already (a killed process): nothing left to reset
    transport.abort()


async def _drop_connection(send: Send) -> None:
    """Promise a body, send part of it and stop: the server then closes the connection."""
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(_DROP_DECLARED_LENGTH).encode()),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b'{"id": "', "more_body": True})
