"""Test-wide guards: no test may reach a host other than loopback, and no real key is used."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

# No test sees a developer's .env through os.environ (`import conversation` would copy it).
os.environ["ASSISTANT_MEDIATOR_NO_DOTENV"] = "1"

# The toolkit imports a backend (and the SDK) when one is first built. Imported inside a test
# instead of here, the SDK clients of the tests' short-lived loops were reported at exit as
# unclosed sockets (pytest's "error" warning filter is still installed then): loaded once at
# collection, as they were before start-up became lazy.
import proxies.backends.assistants_api  # noqa: E402, F401
import proxies.backends.chat_completions  # noqa: E402, F401
import proxies.backends.responses_api  # noqa: E402, F401
import proxies.backends.responses_stateless  # noqa: E402, F401
from emulator import EmulatorServer  # noqa: E402

# yfinance speaks HTTP through libcurl, below `socket`: guard that path too (autouse fixture).
from tests.network_guard_curl import refused_curl_hosts  # noqa: F401

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(address: Any) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX paths are local by definition
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise ConnectionRefusedError(f"tests may only connect to loopback, not {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise ConnectionRefusedError(f"tests may only connect to loopback, not {address!r}")
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any attempt to leave the machine, and hide real credentials from the code under test."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session", autouse=True)
def _session_database(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Conversations in tests record into a throwaway sqlite file, never the checkout's
    `dbstorage/` (subprocesses inherit it through the environment)."""
    if "DATABASE_URL" not in os.environ:
        path = tmp_path_factory.mktemp("db") / "session.db"
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    """An emulator per test module, with short poll hints (modules may override it)."""
    with EmulatorServer(run_ttl=600, poll_after_ms=10, queue_delay=0.0) as server:
        yield server
