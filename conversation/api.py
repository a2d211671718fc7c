"""The public entry points: start, resume or open a mediated conversation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from conversation.settings import Settings, load_settings
from conversation.wiring import resolve_assistant_id, wire
from proxies.policy import ExchangePolicy
from proxies.user_proxy import UserProxy
from tools import ToolRegistry


def start_conversation(
    assistant_id: str | None = None,
    *,
    settings: Settings | None = None,
    registry: ToolRegistry | None = None,
    mediator_type: str | None = None,
    policy: ExchangePolicy | None = None,
) -> UserProxy:
    """Start a new conversation with `assistant_id` and return its User Proxy.

    Configuration comes from the environment and `.env` unless `settings` is given. With no
    `OPENAI_API_KEY`, the built-in offline emulator serves the demo stock assistant. The
    remote thread is created with the first message.
    """
    settings = settings or load_settings()
    return wire(
        resolve_assistant_id(assistant_id, settings),
        settings,
        registry=registry,
        mediator_type=mediator_type,
        policy=policy,
    )


def resume_conversation(
    thread_id: str,
    assistant_id: str | None = None,
    *,
    settings: Settings | None = None,
    registry: ToolRegistry | None = None,
    mediator_type: str | None = None,
    policy: ExchangePolicy | None = None,
) -> UserProxy:
    """Continue an existing remote thread (conversation) with the next message."""
    if not thread_id or not isinstance(thread_id, str):
        raise ValueError("thread_id must be a non-empty string")
    settings = settings or load_settings()
    return wire(
        resolve_assistant_id(assistant_id, settings),
        settings,
        registry=registry,
        mediator_type=mediator_type,
        policy=policy,
        thread_id=thread_id,
    )


@asynccontextmanager
async def open_conversation(
    assistant_id: str | None = None,
    *,
    settings: Settings | None = None,
    registry: ToolRegistry | None = None,
    mediator_type: str | None = None,
    policy: ExchangePolicy | None = None,
    thread_id: str | None = None,
) -> AsyncIterator[UserProxy]:
    """`async with open_conversation(asst_id) as chat: print(await chat.ask("..."))`.

    The remote thread exists on entry (so `chat.conversation_id` is set and event listeners
    see every event); on exit any running exchange is cancelled and connections are closed.
    """
    settings = settings or load_settings()
    user = wire(
        resolve_assistant_id(assistant_id, settings),
        settings,
        registry=registry,
        mediator_type=mediator_type,
        policy=policy,
        thread_id=thread_id,
    )
    try:
        await user.open()
        yield user
    finally:
        await user.aclose()
