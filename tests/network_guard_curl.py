"""Extend the loopback-only network rule to curl_cffi, which yfinance uses for HTTP.

curl_cffi talks through libcurl, below Python's `socket` module, so the socket guard in
`tests/conftest.py` never sees its connections: without this fixture a test of the Yahoo
source would really reach Yahoo Finance on a machine with internet access.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest


def _is_loopback_host(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def refused_curl_hosts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse curl_cffi requests to non-loopback hosts; yield the hosts refused."""
    refused: list[str] = []
    try:
        from curl_cffi import requests as curl_requests
    except ImportError:  # yfinance falls back to `requests`, which the socket guard covers
        yield refused
        return
    real_request = curl_requests.Session.request

    def guarded_request(self: Any, method: Any, url: str, *args: Any, **kwargs: Any) -> Any:
        host = urlsplit(url).hostname or ""
        if not _is_loopback_host(host):
            refused.append(host)
            raise ConnectionRefusedError(f"tests may only connect to loopback, not {host!r}")
        return real_request(self, method, url, *args, **kwargs)

    monkeypatch.setattr(curl_requests.Session, "request", guarded_request)
    yield refused
