"""The public entry points: start, resume or open a mediated conversation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from conversation.journaling import journal_for
from conversation.settings import Settings, load_settings
from conversation.wiring import resolve_assistant_id, wire
from mediator.journal import JournalExchange
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
    conversation_id: str,
    assistant_id: str | None = None,
    *,
    settings: Settings | None = None,
    registry: ToolRegistry | None = None,
    mediator_type: str | None = None,
    policy: ExchangePolicy | None = None,
) -> UserProxy:
    """Continue conversation `conversation_id` (its remote thread), in this or another process.

    If its last exchange never ended (the process running it died), `user.interrupted` says
    so and the first `await user.get_assistant_message()` finishes it: the run is found on the
    server and adopted, tool calls already executed are not executed again, and the reply comes
    back. Otherwise send the next message as usual. The assistant defaults to the one the
    conversation used.
    """
    if not conversation_id or not isinstance(conversation_id, str):
        raise ValueError("conversation_id must be a non-empty string")
    settings = settings or load_settings()
    journal = journal_for(settings)
    last = journal.last_exchange(conversation_id)
    chosen = assistant_id or (last.assistant_id if last is not None else None)
    user = wire(
        resolve_assistant_id(chosen, settings),
        settings,
        registry=registry,
        mediator_type=mediator_type,
        policy=policy,
        thread_id=conversation_id,
        journal=journal,
    )
    if last is not None and last.ended is None:
        user.resume_interrupted(last)
    return user


def unfinished_conversations(
    *, settings: Settings | None = None, limit: int = 50
) -> list[JournalExchange]:
    """Conversations whose last exchange never ended, newest last: `resume_conversation` them."""
    return journal_for(settings or load_settings()).unfinished(limit)


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
    A new conversation checks its assistant first: an unknown id raises `BackendError` and
    leaves nothing on the server.
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
        if thread_id is None:  # an unknown assistant is named now, before anything is created
            await user.check_assistant()
        await user.open()
        yield user
    finally:
        await user.aclose()
