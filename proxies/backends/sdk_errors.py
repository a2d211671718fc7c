"""Translation of `openai` SDK exceptions into `proxies.errors` (the only place that knows both)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

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


def translate(exc: openai.OpenAIError) -> errors.BackendError:
    """The toolkit error for an SDK error; callers `raise translate(e) from e`."""
    if isinstance(exc, openai.APITimeoutError):
        return errors.BackendTimeoutError(f"request timed out: {exc.message}")
    if isinstance(exc, openai.APIConnectionError):
        return errors.BackendConnectionError(f"could not reach the API: {exc.message}")
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
        return target(
            exc.message,
            status_code=exc.status_code,
            code=exc.code,
            request_id=exc.request_id,
        )
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
