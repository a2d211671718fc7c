"""Building a backend by protocol name, so that callers never touch the `openai` SDK.

Each backend's module (and with it the SDK's types for its protocol) is imported when a
backend of that protocol is first built, not when this module is: a process speaking one
protocol never loads the other's types, and importing the toolkit stays quick.
"""

from __future__ import annotations

from typing import Literal

from proxies.backends.base import AssistantCatalog, Backend

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
    if protocol not in ("assistants", "responses"):
        raise ValueError(f"unknown protocol {protocol!r}: expected 'responses' or 'assistants'")
    if protocol == "responses" and catalog is None:
        raise ValueError("the responses protocol needs an assistant catalog")
    from proxies.backends.clients import ClientOptions, shared_client

    client = shared_client(ClientOptions(api_key, base_url, max_retries, timeout_s, strict))
    if protocol == "assistants":
        from proxies.backends.assistants_api import AssistantsBackend

        return AssistantsBackend(client)
    from proxies.backends.responses_api import ResponsesBackend

    assert catalog is not None
    return ResponsesBackend(client, catalog)
