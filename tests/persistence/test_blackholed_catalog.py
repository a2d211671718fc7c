"""Issue 8: a stored assistant's definition is read once, off the event loop. With the database
blackholed afterwards (it accepts connections and never answers), conversations with that
assistant go on, and the event loop never waits for the database."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from conversation.catalog import DatabaseCatalog
from conversation.settings import Settings
from conversation.wiring import wire_to_server
from emulator import EmulatorServer
from persistence import AssistantRecord, AssistantStore, make_engine, upgrade_schema
from proxies.user_proxy import UserProxy
from tests.persistence.tcp_proxy import TcpProxy
from tools import demo_registry

ASSISTANT_ID = "asst_local_stored_for_blackhole"


@contextlib.contextmanager
def blackhole(port: int) -> Iterator[None]:
    """Listen on `port` and never accept: connects succeed at the TCP level, then silence."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    try:
        yield
    finally:
        listener.close()


class LoopTicker:
    """Measures the longest gap between ticks of the running loop (a stall shows as a gap)."""

    def __init__(self, interval_s: float = 0.005) -> None:
        self.interval_s = interval_s
        self.longest_s = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(self.interval_s)
            now = time.perf_counter()
            self.longest_s = max(self.longest_s, now - last - self.interval_s)
            last = now

    def __enter__(self) -> LoopTicker:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def test_a_blackholed_database_never_stalls_conversations_with_a_stored_assistant(
    emulator: EmulatorServer, pg_url: str
) -> None:
    setup_engine = make_engine(pg_url)
    upgrade_schema(setup_engine)
    setup_engine.dispose()
    registry = demo_registry(quote_source="simulated")
    definition_tools = tuple(registry.schemas("responses"))
    target = make_url(pg_url)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    proxy.start()
    via_proxy = target.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    proxied_engine = make_engine(via_proxy)
    store = AssistantStore(proxied_engine)
    store.save(
        AssistantRecord(
            id=ASSISTANT_ID,
            name="Stored",
            model="offline-demo",
            backend="responses",
            tools=definition_tools,
        )
    )
    catalog = DatabaseCatalog(store)
    settings = Settings.model_validate({"RECORD_EVENTS": False})

    def chat() -> UserProxy:
        return wire_to_server(
            emulator.base_url, assistant_id=ASSISTANT_ID, catalog=catalog, settings=settings
        )

    first = chat()
    assert "AAPL" in await first.ask("What is the price of AAPL?")
    await first.aclose()
    proxied_engine.dispose()  # pooled connections would notice the outage, not the catalog

    proxy.stop()
    with blackhole(proxy.port):
        with LoopTicker() as ticker:
            users = [chat() for _ in range(3)]
            replies = await asyncio.wait_for(
                asyncio.gather(*(u.ask("What is the price of MSFT?") for u in users)),
                timeout=120,
            )
            for user in users:
                await user.aclose()
    assert all("MSFT" in reply for reply in replies)
    # A database read on the loop would stall it for the connect timeout (5 s) at least;
    # the bound is generous for a busy machine, the figure itself is in bench/results.
    assert ticker.longest_s < 1.0, f"the event loop stalled {ticker.longest_s:.3f} s"


@pytest.fixture(autouse=True)
def _no_env_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
