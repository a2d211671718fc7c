"""Wiring: backend + Mediator + the two proxies, from settings."""

from __future__ import annotations

import sys
import threading

from conversation.catalog import default_catalog, demo_catalog
from conversation.demo import DEMO_ASSISTANT_ID
from conversation.history import history_for
from conversation.journaling import journal_for
from conversation.offline import OFFLINE_API_KEY, embedded_emulator
from conversation.pricing import Prices
from conversation.recording import recorder_for
from conversation.settings import Settings, SettingsError
from conversation.tracing import listen as trace_events
from mediator import create_mediator
from mediator.journal import Journal
from persistence import DEFAULT_DATABASE_URL
from proxies.admission import admission_for
from proxies.assistant_proxy import AssistantProxy
from proxies.backends.base import AssistantCatalog, Backend
from proxies.backends.factory import create_backend
from proxies.policy import ExchangePolicy
from proxies.user_proxy import UserProxy
from tools import ToolRegistry, demo_registry

_announced: set[str] = set()
_announced_lock = threading.Lock()


def announce_once(line: str) -> None:
    """Print `line` on stderr the first time it is said in this process (which backend
    `auto` picked for a server is said once, not once per conversation)."""
    with _announced_lock:
        if line in _announced:
            return
        _announced.add(line)
    print(line, file=sys.stderr)


def make_backend(settings: Settings, catalog: AssistantCatalog | None = None) -> Backend:
    """The backend for the settings' protocol; the embedded emulator when offline."""
    base_url: str | None
    if settings.offline:
        emulator = embedded_emulator(assistant_id=settings.assistant_id)
        api_key, base_url = OFFLINE_API_KEY, emulator.base_url
    else:
        # A local server named by OPENAI_BASE_URL alone needs no key; the SDK needs a string.
        key = settings.openai_api_key
        api_key = key.get_secret_value() if key is not None else OFFLINE_API_KEY
        base_url = settings.openai_base_url
    return create_backend(
        settings.protocol,
        api_key=api_key,
        base_url=base_url,
        catalog=catalog or default_catalog(settings.database_url or DEFAULT_DATABASE_URL),
        history=history_for(settings),
        max_context_tokens=settings.max_context_tokens,
        announce=announce_once,
    )


def resolve_assistant_id(assistant_id: str | None, settings: Settings) -> str:
    chosen = assistant_id or settings.assistant_id
    if chosen:
        return chosen
    if settings.keyless:  # the emulator, embedded or standalone, serves the demo assistant
        return DEMO_ASSISTANT_ID
    raise SettingsError(
        "no assistant id: pass one, or set ASSISTANT_ID (python assistant_setup.py creates "
        "the demo assistant and prints its id)"
    )


def wire(
    assistant_id: str,
    settings: Settings,
    *,
    registry: ToolRegistry | None = None,
    mediator_type: str | None = None,
    policy: ExchangePolicy | None = None,
    thread_id: str | None = None,
    backend: Backend | None = None,
    delivery: str | None = None,
    journal: Journal | None = None,
) -> UserProxy:
    """Build one conversation: its Mediator, User Proxy and Assistant Proxy."""
    policy = policy or ExchangePolicy(
        deadline_s=settings.exchange_deadline_s,
        tool_timeout_s=settings.tool_timeout_s,
        approval_timeout_s=settings.approval_timeout_s,
    )
    mediator = create_mediator(mediator_type or settings.mediator_type, conversation_id=thread_id)
    stream = (delivery or settings.delivery) == "stream"
    # The recorder (one per process) listens before the first event is published.
    recorder_for(settings)
    trace_events()  # spans, when the OpenTelemetry extra is installed
    journal = journal if journal is not None else journal_for(settings)
    user = UserProxy(
        mediator,
        registry or demo_registry(quote_source=settings.quotes),
        policy=policy,
        journal=journal,
        approve_tools=settings.approve_tools,
    )
    assistant = AssistantProxy(
        backend or make_backend(settings),
        assistant_id,
        mediator,
        policy=policy,
        thread_id=thread_id,
        stream=stream,
        journal=journal,
        price=Prices.from_settings(settings).cost,
        admission=admission_for(settings.max_exchanges_in_progress),
    )
    mediator.attach(user, assistant)
    return user


def wire_to_server(
    base_url: str,
    *,
    protocol: str = "responses",
    delivery: str = "stream",
    mediator_type: str = "stateMachine",
    assistant_id: str = DEMO_ASSISTANT_ID,
    registry: ToolRegistry | None = None,
    policy: ExchangePolicy | None = None,
    catalog: AssistantCatalog | None = None,
    max_retries: int = 2,
    strict: bool = False,
    settings: Settings | None = None,
    timeout_s: float = 60.0,
) -> UserProxy:
    """A conversation with the server at `base_url` (an emulator, usually), all else explicit.

    Tests, benchmarks and scripts use it to talk to an emulator they started themselves;
    `strict` turns on the SDK's response validation.
    """
    settings = settings or Settings()  # pydantic-settings: the environment and .env
    backend = create_backend(
        protocol,  # type: ignore[arg-type]
        api_key="not-a-secret",
        base_url=base_url,
        catalog=catalog or demo_catalog(),
        max_retries=max_retries,
        strict=strict,
        timeout_s=timeout_s,
        history=history_for(settings),
        max_context_tokens=settings.max_context_tokens,
        announce=announce_once,
    )
    return wire(
        assistant_id,
        settings,
        registry=registry,
        mediator_type=mediator_type,
        policy=policy,
        backend=backend,
        delivery=delivery,
    )
