"""Translation of `openai` SDK exceptions into `proxies.errors` (the only place that knows both)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import openai

from proxies import errors

_T = TypeVar("_T")

# Most specific first: the first matching class wins.
_STATUS_MAP: tuple[tuple[type[openai.APIStatusError], type[errors.BackendStatusError]], ...] = (
    (openai.BadRequestError, errors.BackendBadRequestError),
    (openai.AuthenticationError, errors.BackendAuthenticationError),
    (openai.PermissionDeniedError, errors.BackendPermissionError),
    (openai.NotFoundError, errors.BackendNotFoundError),
    (openai.ConflictError, errors.BackendConflictError),
    (openai.UnprocessableEntityError, errors.BackendUnprocessableError),
    (openai.RateLimitError, errors.BackendRateLimitError),
    (openai.InternalServerError, errors.BackendServerError),
)


def _retry_after(headers: Any) -> float | None:
    """The server's `retry-after-ms` or `retry-after` (seconds), if it sent one."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        raw = headers.get(name)
        if raw is not None:
            try:
                return max(float(raw) / scale, 0.0)
            except ValueError:
                continue
    return None


def _request_line(exc: openai.OpenAIError) -> str | None:
    """``POST /v1/responses``: which request this was, never its body or headers."""
    request = getattr(exc, "request", None)
    if request is None:
        return None
    try:
        return f"{request.method} {request.url.path}"
    except AttributeError:
        return None


def translate(exc: openai.OpenAIError) -> errors.BackendError:
    """The toolkit error for an SDK error; callers `raise translate(e) from e`.

    The message names the request (``POST /v1/responses: ...``) and what is known of its
    outcome: a connection lost after the request was sent may have been acted upon.
    """
    error = _translate(exc)
    line = _request_line(exc)
    if line is not None:
        error.request = line
        error.message = f"{line}: {error.message}"
        error.args = (error.message,)
    return error


def _translate(exc: openai.OpenAIError) -> errors.BackendError:
    if isinstance(exc, openai.APITimeoutError):
        return errors.BackendTimeoutError(
            f"no reply in time ({exc.message}); the server may have acted on it"
        )
    if isinstance(exc, openai.APIConnectionError):
        return errors.BackendConnectionError(
            f"the connection failed before a complete reply ({exc.message}); "
            "the server may have acted on it"
        )
    if isinstance(exc, openai.APIResponseValidationError):
        return errors.BackendResponseError(
            f"the API sent a response the SDK could not validate: {exc.message}",
            status_code=exc.status_code,
        )
    if isinstance(exc, openai.APIStatusError):
        target: type[errors.BackendStatusError] = errors.BackendStatusError
        for sdk_type, toolkit_type in _STATUS_MAP:
            if isinstance(exc, sdk_type):
                target = toolkit_type
                break
        else:
            if exc.status_code >= 500:
                target = errors.BackendServerError
        error = target(
            exc.message,
            status_code=exc.status_code,
            code=exc.code,
            request_id=exc.request_id,
        )
        error.retry_after_s = _retry_after(exc.response.headers)
        return error
    if isinstance(exc, openai.APIError):
        # An error event inside a stream: no HTTP status, but the server spoke.
        return errors.BackendServerError(exc.message, code=exc.code)
    return errors.BackendError(str(exc) or type(exc).__name__)


@asynccontextmanager
async def sdk_errors() -> AsyncIterator[None]:
    """Translate any SDK error raised inside the block into a toolkit error."""
    try:
        yield
    except openai.OpenAIError as exc:
        raise translate(exc) from exc


async def call_sdk(make: Callable[[], Awaitable[_T]]) -> _T:
    """Await the SDK call `make()` builds, with its errors translated."""
    async with sdk_errors():
        return await make()
