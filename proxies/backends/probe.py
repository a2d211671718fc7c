"""`ASSISTANT_BACKEND=auto`: ask a server once what it offers, and pick the richest backend.

Nothing is generated and nothing is left behind: a server that has a route answers a request
it cannot accept with a 4xx other than 404/405, and one without it answers 404 or 405.

1. Conversations: `POST /v1/conversations` creates one (deleted again at once): `responses`,
   the backend with server-side state, background runs and reconciliation.
2. `POST /v1/responses` with an empty body answers 400 where the route exists:
   `responses-stateless`. Whether the server keeps responses is asked with
   `GET /v1/responses/{an id that does not exist}`: a server that keeps them answers its own
   "not found" error, one that does not has no such route (an "Invalid URL" or a bare 404/405).
   Where it keeps them, responses are chained with `previous_response_id`.
3. `POST /v1/chat/completions` with an empty body: `chat`.

The answer is kept per client (server and key, and event loop) for the life of the process.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Any

import openai
from openai import AsyncOpenAI

from proxies.backends.clients import SharedClient
from proxies.backends.sdk_errors import translate
from proxies.errors import BackendError

__all__ = ["ServerOffer", "probe_server"]

_ABSENT = frozenset({404, 405})
_MISSING_ID = "resp_assistant_mediator_probe"


@dataclass(frozen=True, slots=True)
class ServerOffer:
    """What a server answers; `backend` names the richest backend it supports."""

    conversations: bool = False
    responses: bool = False
    keeps_responses: bool = False
    chat: bool = False

    @property
    def backend(self) -> str:
        if self.conversations and self.responses:
            return "responses"
        if self.responses:
            return "responses-stateless"
        if self.chat:
            return "chat"
        raise BackendError(
            "the server offers none of /v1/conversations, /v1/responses and "
            "/v1/chat/completions: is OPENAI_BASE_URL right (it usually ends in /v1)?"
        )

    def describe(self) -> str:
        """A few words on what was found, for the one line that says what was picked."""
        if self.conversations:
            return "Conversations and Responses"
        if self.responses and self.keeps_responses:
            return "Responses that it keeps (chained with previous_response_id)"
        if self.responses:
            return "stateless Responses (the history is replayed)"
        return "only Chat Completions"


def _route_exists(exc: openai.APIStatusError) -> bool:
    return exc.status_code not in _ABSENT


def _keeps(exc: openai.APIStatusError) -> bool:
    """A 404 of the server's own ("no such response"), not of a missing route."""
    if exc.status_code != 404:
        return exc.status_code not in _ABSENT
    body: Any = exc.body
    error = body.get("error") if isinstance(body, dict) else None
    message = str(error.get("message", "")) if isinstance(error, dict) else ""
    if not isinstance(error, dict) and isinstance(body, dict):
        message = str(body.get("message", ""))  # the SDK unwraps `error` on some versions
    return bool(message) and not message.startswith("Invalid URL") and message != "Not Found"


async def _answers(client: AsyncOpenAI, method: str, path: str, *, keeps: bool = False) -> bool:
    try:
        if method == "GET":
            await client.get(path, cast_to=object)
        else:
            await client.post(path, body={}, cast_to=object)
    except openai.APIStatusError as exc:
        if exc.status_code in (401, 403):
            raise translate(exc) from exc
        return _keeps(exc) if keeps else _route_exists(exc)
    except openai.OpenAIError as exc:
        raise translate(exc) from exc
    return True


async def _has_conversations(client: AsyncOpenAI) -> bool:
    try:
        made = await client.conversations.create()
    except openai.APIStatusError as exc:
        if exc.status_code in (401, 403):
            raise translate(exc) from exc
        return False
    except openai.OpenAIError as exc:
        raise translate(exc) from exc
    try:
        await client.conversations.delete(made.id)
    except openai.OpenAIError:
        pass  # an empty conversation left behind harms nothing
    return True


async def _probe(client: AsyncOpenAI) -> ServerOffer:
    responses = await _answers(client, "POST", "/responses")
    if responses and await _has_conversations(client):
        return ServerOffer(conversations=True, responses=True)
    if responses:
        keeps = await _answers(client, "GET", f"/responses/{_MISSING_ID}", keeps=True)
        return ServerOffer(responses=True, keeps_responses=keeps)
    return ServerOffer(chat=await _answers(client, "POST", "/chat/completions"))


# Per SDK client, which is per (server, key, options) and event loop: an app asks once; a
# server started afresh on the same port (tests) is asked again from its own loop.
_found: weakref.WeakKeyDictionary[AsyncOpenAI, ServerOffer] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


async def probe_server(client: SharedClient) -> ServerOffer:
    """What the server behind `client` offers, asked once per process and event loop."""
    sdk = client.get()
    with _lock:
        known = _found.get(sdk)
    if known is not None:
        return known
    offer = await _probe(sdk)
    with _lock:
        _found[sdk] = offer
    return offer
