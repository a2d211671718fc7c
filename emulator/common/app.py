"""The ASGI application: routes under ``/v1``, the error envelope, request ids, faults, latency.

Layers, outermost first: `RequestIdMiddleware` (an ``x-request-id`` on every answer, faults
included), `BodyLimitMiddleware` (413 over ``max_body_bytes``), `FaultMiddleware`, global
latency, then the Starlette app whose exception handlers render every error as
``{"error": {...}}``. Each protocol has its routes: Assistants v2 (assistants, threads and
messages, runs; they need the beta header) and Responses (responses, conversations).

The app is plain Starlette, not FastAPI: handlers parse bodies with pydantic themselves so that
every failure is the API's 400 envelope (FastAPI's automatic 422s and OpenAPI docs are what an
emulator of someone else's API must not add).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..assistants.routes import assistant_routes, thread_routes
from ..assistants.routes_runs import run_routes
from ..chat.routes import chat_routes
from ..responses.routes import conversation_routes, response_routes
from .errors import ApiError, error_envelope
from .faults import TRANSPORT_SCOPE_KEY, FaultMiddleware
from .profiles import ServerProfile
from .state import EmulatorState

__all__ = ["build_app"]

logger = logging.getLogger(__name__)

API_PREFIX = "/v1"


def _api_routes(profile: ServerProfile) -> list[BaseRoute]:
    """The routes `profile` serves (any other path answers 404, as on the real servers)."""
    routes: list[BaseRoute] = []
    if profile.assistants:
        routes += [*assistant_routes(), *run_routes(), *thread_routes()]  # runs first
    if profile.responses:
        routes += response_routes(keeps_responses=profile.keeps_responses)
    if profile.conversations:
        routes += conversation_routes()
    if profile.chat:
        routes += chat_routes()
    return routes


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"Invalid URL ({request.method} {request.url.path})"
    else:
        message = f"{exc.detail} ({request.method} {request.url.path})"
    return JSONResponse(error_envelope(message), status_code=exc.status_code)


async def _internal_error(request: Request, exc: Exception) -> Response:
    logger.error("emulator error on %s %s", request.method, request.url.path, exc_info=exc)
    body = error_envelope(
        "The emulator had an internal error.", error_type="server_error", code="server_error"
    )
    return JSONResponse(body, status_code=500, headers={"x-should-retry": "false"})


class RequestIdMiddleware:
    """Give every answer an ``x-request-id`` header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = f"req_{secrets.token_hex(16)}".encode()
        # uvicorn's `send` is a method of the request cycle, which holds the connection's
        # transport: the reset and stall faults need it to abort the connection (if another
        # server runs the app, they fall back to an aborted response).
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        scope = {**scope, TRANSPORT_SCOPE_KEY: transport}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", request_id)]}
            await send(message)

        await self.app(scope, receive, send_with_id)


class LatencyMiddleware:
    """Wait `seconds` before handling each request, without holding up the others."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.seconds > 0:
            await asyncio.sleep(self.seconds)
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse a request body over `limit` bytes with a 413, before any handler sees it.

    The body is read here (at most `limit` bytes are ever held) and handed on in one piece, so
    one request can never make the server hold more than that.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large(send, int(declared))
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._too_large(send, size)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send, size: int) -> None:
        message = f"Request body too large: {size} bytes; the limit is {self.limit} bytes."
        body = json.dumps(error_envelope(message, code="request_too_large")).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def build_app(state: EmulatorState) -> ASGIApp:
    app = Starlette(
        routes=[Mount(API_PREFIX, routes=_api_routes(state.config.server_profile))],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
        lifespan=state.lifespan,
    )
    app.state.emulator = state
    inner: ASGIApp = LatencyMiddleware(app, state.config.latency)
    faulted = FaultMiddleware(inner, state.faults, prefix=API_PREFIX, stopping=state.stopping)
    return RequestIdMiddleware(BodyLimitMiddleware(faulted, state.config.max_body_bytes))
