"""Building a backend by protocol name, so that callers never touch the `openai` SDK."""

from __future__ import annotations

from typing import Literal

from proxies.backends.assistants_api import AssistantsBackend
from proxies.backends.base import AssistantCatalog, Backend
from proxies.backends.clients import ClientOptions, shared_client
from proxies.backends.responses_api import ResponsesBackend

Protocol = Literal["responses", "assistants"]


def create_backend(
    protocol: Protocol,
    *,
    api_key: str,
    base_url: str | None,
    catalog: AssistantCatalog | None = None,
    max_retries: int = 2,
    timeout_s: float = 60.0,
    strict: bool = False,
) -> Backend:
    """A backend speaking `protocol` to `base_url` (OpenAI when None).

    `catalog` is required for `responses`: that protocol has no assistant object, so the
    assistant's model, instructions and tools come from there. `strict` turns on the SDK's
    response validation (tests use it against the emulator). Backends with the same
    options share one HTTP client per event loop (`proxies.backends.clients`).
    """
    client = shared_client(ClientOptions(api_key, base_url, max_retries, timeout_s, strict))
    if protocol == "assistants":
        return AssistantsBackend(client)
    if protocol == "responses":
        if catalog is None:
            raise ValueError("the responses protocol needs an assistant catalog")
        return ResponsesBackend(client, catalog)
    raise ValueError(f"unknown protocol {protocol!r}: expected 'responses' or 'assistants'")
