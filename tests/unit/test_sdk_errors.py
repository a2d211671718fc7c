"""Every `openai.APIError` subclass maps to a toolkit `BackendError` at the seam."""

from __future__ import annotations

import inspect

import httpx2 as httpx  # the HTTP library the openai SDK is built on
import openai
import pytest

from proxies import errors
from proxies.backends.sdk_errors import translate


def _all_subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out.append(sub)
        out.extend(_all_subclasses(sub))
    return out


def _instance(cls: type[openai.APIError]) -> openai.APIError:
    request = httpx.Request("GET", "http://127.0.0.1/v1/x")
    if issubclass(cls, openai.APIStatusError):
        status = {
            "BadRequestError": 400,
            "AuthenticationError": 401,
            "OAuthError": 401,
            "PermissionDeniedError": 403,
            "NotFoundError": 404,
            "ConflictError": 409,
            "UnprocessableEntityError": 422,
            "RateLimitError": 429,
            "InternalServerError": 500,
        }.get(cls.__name__, 418)
        response = httpx.Response(status, request=request, headers={"x-request-id": "req_1"})
        if "message" not in inspect.signature(cls.__init__).parameters:  # e.g. OAuthError
            return cls(response=response, body={"error": "invalid_grant"})
        return cls("boom", response=response, body={"code": "c1"})
    if issubclass(cls, openai.APITimeoutError):
        return cls(request=request)
    if issubclass(cls, openai.APIConnectionError):
        return cls(request=request)
    if issubclass(cls, openai.APIResponseValidationError):
        return cls(response=httpx.Response(200, request=request), body=None)
    return cls("boom", request, body=None)


@pytest.mark.parametrize("cls", _all_subclasses(openai.APIError), ids=lambda c: c.__name__)
def test_every_sdk_error_is_mapped(cls: type[openai.APIError]) -> None:
    translated = translate(_instance(cls))
    assert isinstance(translated, errors.BackendError)
    assert type(translated) is not errors.BackendError, f"{cls.__name__} fell through"


@pytest.mark.parametrize(
    ("status", "expected", "retryable"),
    [
        (400, errors.BackendBadRequestError, False),
        (401, errors.BackendAuthenticationError, False),
        (404, errors.BackendNotFoundError, False),
        (429, errors.BackendRateLimitError, True),
        (503, errors.BackendServerError, True),
        (418, errors.BackendStatusError, False),
    ],
)
def test_status_codes_map_with_fields(status: int, expected: type, retryable: bool) -> None:
    request = httpx.Request("GET", "http://127.0.0.1/v1/x")
    response = httpx.Response(status, request=request, headers={"x-request-id": "req_9"})
    exc = openai.APIStatusError("nope", response=response, body={"code": "some_code"})
    if status in (400, 401, 404, 429, 503):
        exc = openai.OpenAI(api_key="k", base_url="http://127.0.0.1:1/v1")._make_status_error(
            "nope", body={"code": "some_code"}, response=response
        )
    translated = translate(exc)
    assert type(translated) is expected
    assert translated.status_code == status
    assert translated.request_id == "req_9"
    assert translated.retryable is retryable


def test_connection_errors_are_retryable() -> None:
    request = httpx.Request("GET", "http://127.0.0.1/v1/x")
    assert translate(openai.APIConnectionError(request=request)).retryable
    assert isinstance(
        translate(openai.APITimeoutError(request=request)), errors.BackendTimeoutError
    )
