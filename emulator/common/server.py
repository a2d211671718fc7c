"""`EmulatorServer`: the emulator on a free loopback port, served by uvicorn in its own thread.

    with EmulatorServer(ScriptedModel([Reply("hi")])) as server:
        client = OpenAI(base_url=server.base_url, api_key="test")

The server has its own thread and event loop, so a client's loop (sync or async) never holds
it up. `stop()` is bounded: open streams are closed first, then uvicorn gets a short graceful
period, then it is forced.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import uvicorn

from ..demo.model import DemoStockModel
from .app import build_app
from .config import EmulatorConfig
from .faults import FaultSet
from .inspect import Holdings, holdings
from .state import EmulatorState
from .turns import Model, Turn, TurnContext, as_model

__all__ = ["EmulatorServer"]

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
START_TIMEOUT = 10.0
#: Seconds an idle keep-alive connection is kept open (see `start`).
KEEP_ALIVE_S = 75
STOP_TIMEOUT = 5.0


class EmulatorServer:
    """An emulator on ``127.0.0.1``; use as a context manager or call `start()`/`stop()`."""

    def __init__(
        self,
        model: Model | Callable[[TurnContext], Turn] | None = None,
        *,
        state_file: str | Path | None = None,
        run_ttl: float = 600.0,
        poll_after_ms: int = 100,
        queue_delay: float = 0.05,
        model_delay: float = 0.0,
        cancel_delay: float = 0.05,
        latency: float = 0.0,
        seed_assistants: bool = True,
        max_body_bytes: int = 16 * 1024 * 1024,
        port: int = 0,
        profile: str = "openai",
        chat_argument_piece: int = 8,
        chat_interleave: bool = False,
    ) -> None:
        self.model = model if model is not None else DemoStockModel()
        self.faults = FaultSet()
        self.config = EmulatorConfig(
            run_ttl=run_ttl,
            poll_after_ms=poll_after_ms,
            queue_delay=queue_delay,
            model_delay=model_delay,
            cancel_delay=cancel_delay,
            latency=latency,
            state_file=Path(state_file) if state_file is not None else None,
            seed_assistants=seed_assistants,
            max_body_bytes=max_body_bytes,
            profile=profile,
            chat_argument_piece=chat_argument_piece,
            chat_interleave=chat_interleave,
        )
        self._requested_port = port
        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._state: EmulatorState | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- model ------------------------------------------------------------------------------
    @property
    def model(self) -> Model:
        """The model deciding run turns; replace it at any time (new turns use the new one)."""
        return self._model

    @model.setter
    def model(self, model: Model | Callable[[TurnContext], Turn]) -> None:
        self._model = as_model(model)

    # -- addresses --------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator server is not started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        """The ``base_url`` for an OpenAI client: ``http://127.0.0.1:PORT/v1``."""
        return f"{self.url}/v1"

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- inspection -------------------------------------------------------------------------
    def holdings(self, owner_id: str, timeout: float = 10.0) -> Holdings:
        """What the server holds for a thread or conversation: user and assistant messages,
        function calls, tool outputs, active runs or responses (read on the server's loop).
        Raises `KeyError` for an unknown id."""
        state, loop = self._state, self._loop
        if state is None or loop is None:
            raise RuntimeError("the emulator server is not started")

        async def read() -> Holdings:
            return holdings(state, owner_id)

        return asyncio.run_coroutine_threadsafe(read(), loop).result(timeout)

    def owners(self, timeout: float = 10.0) -> frozenset[str]:
        """The id of every thread and conversation the server holds (read on its loop)."""
        state, loop = self._state, self._loop
        if state is None or loop is None:
            raise RuntimeError("the emulator server is not started")

        async def read() -> frozenset[str]:
            return frozenset(state.store.threads) | frozenset(state.responses_store.conversations)

        return asyncio.run_coroutine_threadsafe(read(), loop).result(timeout)

    # -- start and stop ---------------------------------------------------------------------
    def start(self) -> EmulatorServer:
        if self._thread is not None:
            raise RuntimeError("the emulator server is already started")
        # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only when it is given.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, self._requested_port or self._port or 0))
        self._port = sock.getsockname()[1]
        self._state = EmulatorState(self.config, lambda: self.model, self.faults)
        config = uvicorn.Config(
            build_app(self._state),
            http="h11",
            lifespan="on",
            log_config=None,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
            # Longer than a client's idle expiry (httpx: 5 s, uvicorn's own default is 5 s
            # too): with equal times, a busy client reuses a pooled connection just as the
            # server closes it, and the request fails with a connection error. Servers in
            # front of real APIs keep idle connections far longer.
            timeout_keep_alive=KEEP_ALIVE_S,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._serve, args=(self._server, sock), name="emulator-server", daemon=True
        )
        self._thread.start()
        self._wait_started()
        return self

    def _serve(self, server: uvicorn.Server, sock: socket.socket) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        finally:
            sock.close()
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def _wait_started(self) -> None:
        assert self._server is not None
        assert self._thread is not None
        deadline = time.monotonic() + START_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive():
                self._reset()
                raise RuntimeError("the emulator server failed to start (see the log)")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the emulator server did not start in {START_TIMEOUT} s")
            time.sleep(0.005)

    def stop(self) -> None:
        """Stop serving (bounded: a few seconds at most); the state file is saved."""
        server, thread, state, loop = self._server, self._thread, self._state, self._loop
        if server is None or thread is None:
            return
        if state is not None and loop is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(state.close_streams)
            except RuntimeError:  # the loop closed in between
                pass
        server.should_exit = True
        thread.join(STOP_TIMEOUT)
        if thread.is_alive():
            server.force_exit = True
            thread.join(STOP_TIMEOUT)
            if thread.is_alive():
                logger.warning("the emulator server thread did not stop in time")
        self._reset()

    def _reset(self) -> None:
        self._server = None
        self._thread = None
        self._state = None
        self._loop = None

    def restart(self) -> EmulatorServer:
        """Stop and start again on the same port, reloading the state file if there is one."""
        port = self._port
        self.stop()
        self._requested_port = port or 0
        return self.start()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None and self.running else "stopped"
        return f"EmulatorServer({where}, profile={self.config.profile}, model={self.model!r})"
