"""Fixtures for the emulator suite: one server per module, strict SDK clients, deadline waits."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from openai import AsyncOpenAI, OpenAI

from emulator import DemoStockModel, EmulatorServer

T = TypeVar("T")

HERE = Path(__file__).parent

# The SDK marks every Assistants method deprecated; calling them is the point of this suite.
_ASSISTANTS_DEPRECATION = pytest.mark.filterwarnings("ignore:.*deprecated:DeprecationWarning")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(_ASSISTANTS_DEPRECATION)


def make_client(server: EmulatorServer, **options: object) -> OpenAI:
    return OpenAI(
        base_url=server.base_url,
        api_key="test-key",
        _strict_response_validation=True,
        **options,  # type: ignore[arg-type]
    )


def wait_for(probe: Callable[[], T | None], timeout: float = 5.0, interval: float = 0.01) -> T:
    """Call `probe` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s (last value {value!r})")
        time.sleep(interval)


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(queue_delay=0.01, cancel_delay=0.01, poll_after_ms=10) as running:
        yield running


@pytest.fixture
def client(server: EmulatorServer) -> Iterator[OpenAI]:
    server.model = DemoStockModel()
    server.faults.clear()
    with make_client(server) as sdk:
        yield sdk
    server.faults.clear()


def error_message(error: Exception) -> str:
    """The ``error.message`` of an SDK status error (its `str` differs between versions)."""
    body = getattr(error, "body", None)
    assert isinstance(body, dict), f"no error body on {error!r}"
    message = body["message"]
    assert isinstance(message, str)
    return message


@pytest.fixture
async def async_client(server: EmulatorServer) -> AsyncIterator[AsyncOpenAI]:
    server.model = DemoStockModel()
    server.faults.clear()
    async with make_async_client(server) as sdk:
        yield sdk
    server.faults.clear()


def make_async_client(server: EmulatorServer, **options: object) -> AsyncOpenAI:
    return AsyncOpenAI(
        base_url=server.base_url,
        api_key="test-key",
        _strict_response_validation=True,
        **options,  # type: ignore[arg-type]
    )
