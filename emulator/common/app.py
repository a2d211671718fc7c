"""The ASGI application: routes under ``/v1``, the error envelope, request ids, faults, latency.

Layers, outermost first: `RequestIdMiddleware` (an ``x-request-id`` on every answer, faults
included), `FaultMiddleware`, global latency, then the Starlette app whose exception handlers
render every error as ``{"error": {...}}``. Each API family is one router module: assistants,
threads and runs (Assistants v2, which need the beta header), responses and conversations.
"""

from __future__ import annotations

import asyncio
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
from ..responses.routes import conversation_routes, response_routes
from .errors import ApiError, error_envelope
from .faults import FaultMiddleware
from .state import EmulatorState

__all__ = ["build_app"]

logger = logging.getLogger(__name__)

API_PREFIX = "/v1"


def _api_routes() -> list[BaseRoute]:
    return [
        *assistant_routes(),
        *thread_routes(),
        *run_routes(),
        *response_routes(),
        *conversation_routes(),
    ]


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


def build_app(state: EmulatorState) -> ASGIApp:
    app = Starlette(
        routes=[Mount(API_PREFIX, routes=_api_routes())],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
            Exception: _internal_error,
        },
        lifespan=state.lifespan,
    )
    app.state.emulator = state
    inner: ASGIApp = LatencyMiddleware(app, state.config.latency)
    return RequestIdMiddleware(FaultMiddleware(inner, state.faults, prefix=API_PREFIX))
