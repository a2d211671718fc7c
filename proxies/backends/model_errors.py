"""Telling the model's own failure apart from a failed request, for the stateless backends.

A server with no run object reports a model that failed as an error answer. When it says not
to retry (`x-should-retry: false` on a 5xx), the turn has an outcome, `failed`, like a failed
run; anything else is a failed *request*, translated and raised, and sent again by the
Assistant Proxy (nothing was kept on the server, so that is always safe).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import openai

from proxies.backends.base import RunError
from proxies.backends.sdk_errors import translate

__all__ = ["answered", "model_failure"]

T = TypeVar("T")


def model_failure(exc: openai.APIStatusError) -> RunError | None:
    """The model's own failure, told by the server as an error it says not to retry."""
    if exc.status_code >= 500 and exc.response.headers.get("x-should-retry") == "false":
        return RunError(code=str(exc.code or "server_error"), message=exc.message)
    return None


async def answered(make: Callable[[], Awaitable[T]]) -> T | RunError:
    """The answer of the request `make()` sends, or the model's failure it reports; any other
    SDK error is raised as a toolkit error."""
    try:
        return await make()
    except openai.APIStatusError as exc:
        failure = model_failure(exc)
        if failure is None:
            raise translate(exc) from exc
        return failure
    except openai.OpenAIError as exc:
        raise translate(exc) from exc
