"""Errors the emulator answers with, as the OpenAI wire protocol spells them.

Exception tree::

    ApiError                  an HTTP error answer: status, message, type, param, code, headers
    ScriptExhaustedError      a ScriptedModel was asked for more turns than it holds (the run fails)

`ApiError` is raised anywhere inside a request handler and turned into the exact envelope
``{"error": {"message", "type", "param", "code"}}`` by the app's exception handler. Raise it
before any side effect: the SDK re-sends requests that end in 408, 409, 429 or 5xx.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "ApiError",
    "ScriptExhaustedError",
    "bad_request",
    "error_envelope",
    "not_found",
]


def error_envelope(
    message: str,
    *,
    error_type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    """The JSON body of every error answer."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


class ApiError(Exception):
    """An error answer: raised in a handler, rendered as the OpenAI error envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.param = param
        self.code = code
        self.headers: dict[str, str] = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The envelope for this error."""
        return error_envelope(
            self.message, error_type=self.error_type, param=self.param, code=self.code
        )


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    """A 400 `invalid_request_error`, the API's answer to every state conflict."""
    return ApiError(400, message, param=param, code=code)


def not_found(kind: str, object_id: str) -> ApiError:
    """A 404 worded like the real API: ``No assistant found with id 'asst_x'.``"""
    return ApiError(404, f"No {kind} found with id '{object_id}'.")


class ScriptExhaustedError(RuntimeError):
    """A `ScriptedModel` ran out of turns; the run that asked fails with this message."""

    def __init__(self, used: int) -> None:
        super().__init__(
            f"ScriptedModel has no turn left: all {used} scripted turns were already used. "
            "Give the model more turns, or replace server.model before the next run."
        )
        self.used = used
