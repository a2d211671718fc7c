"""Building a backend by protocol name, so that callers never touch the `openai` SDK.

This is where a backend is registered: its name here, and in the settings' list of names.
Each backend's module (and with it the SDK's types for its protocol) is imported when a
backend of that protocol is first built, not when this module is: a process speaking one
protocol never loads the others', and importing the toolkit stays quick.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, get_args

from proxies.backends.base import AssistantCatalog, Backend
from proxies.backends.budget import DEFAULT_MAX_CONTEXT_TOKENS
from proxies.backends.history import HistorySource

if TYPE_CHECKING:
    from proxies.backends.probe import ServerOffer

__all__ = ["PROTOCOLS", "Protocol", "create_backend"]

Protocol = Literal["responses", "assistants", "responses-stateless", "chat", "auto"]
PROTOCOLS: tuple[str, ...] = get_args(Protocol)


def create_backend(
    protocol: Protocol,
    *,
    api_key: str,
    base_url: str | None,
    catalog: AssistantCatalog | None = None,
    max_retries: int = 2,
    timeout_s: float = 60.0,
    strict: bool = False,
    history: HistorySource | None = None,
    max_context_tokens: int = DEFAULT_MAX_CONTEXT_TOKENS,
    announce: Callable[[str], None] | None = None,
) -> Backend:
    """A backend speaking `protocol` to `base_url` (OpenAI when None).

    `catalog` is required for every protocol but `assistants`: they have no assistant object,
    so the assistant's model, instructions and tools come from there. `history` gives the
    stateless backends (`responses-stateless`, `chat`) a conversation they did not start
    (a resumed one), and `max_context_tokens` bounds what they replay. `auto` probes the
    server on first use and takes the richest of `responses`, `responses-stateless` and
    `chat` (OpenAI itself, `base_url` None, keeps `responses`); `announce` is handed the
    line that says which. `strict` turns on the SDK's response validation (tests use it
    against the emulator). Backends with the same options share one HTTP client per event
    loop (`proxies.backends.clients`).
    """
    if protocol not in PROTOCOLS:
        expected = ", ".join(repr(name) for name in PROTOCOLS)
        raise ValueError(f"unknown protocol {protocol!r}: expected one of {expected}")
    if protocol != "assistants" and catalog is None:
        raise ValueError(f"the {protocol} protocol needs an assistant catalog")
    from proxies.backends.clients import ClientOptions, shared_client

    client = shared_client(ClientOptions(api_key, base_url, max_retries, timeout_s, strict))
    if protocol == "assistants":
        from proxies.backends.assistants_api import AssistantsBackend

        return AssistantsBackend(client)
    assert catalog is not None
    known = catalog

    def build(name: str, *, chain: bool = False) -> Backend:
        if name == "responses":
            from proxies.backends.responses_api import ResponsesBackend

            return ResponsesBackend(client, known)
        from proxies.backends.budget import ContextBudget

        budget = ContextBudget(max_context_tokens)
        if name == "chat":
            from proxies.backends.chat_completions import ChatCompletionsBackend

            return ChatCompletionsBackend(client, known, history=history, budget=budget)
        from proxies.backends.responses_stateless import StatelessResponsesBackend

        return StatelessResponsesBackend(client, known, history=history, budget=budget, chain=chain)

    if protocol == "auto" and base_url is None:
        return build("responses")  # OpenAI itself: the richest, no need to ask
    if protocol == "auto":
        from proxies.backends.auto import AutoBackend

        def choose(offer: ServerOffer) -> Backend:
            return build(offer.backend, chain=offer.keeps_responses)

        return AutoBackend(client, choose, announce)
    return build(protocol)
