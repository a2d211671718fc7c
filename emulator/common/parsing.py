"""Reading requests and writing answers: JSON bodies, the beta header, run-poll headers.

A body that is empty is ``{}`` (the SDK's cancel sends no body); one that is not a JSON object,
or fails its pydantic model, is a 400 `invalid_request_error` naming the field, never a 422.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .errors import ApiError, bad_request

__all__ = ["Body", "Metadata", "assistants_api", "json_response", "parse_body", "read_json"]

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[Request], Awaitable[Response]]

Metadata = Annotated[dict[str, Annotated[str, Field(max_length=512)]], Field(max_length=16)]


class Body(BaseModel):
    """A request body: unknown fields are refused, types are strict."""

    model_config = ConfigDict(extra="forbid", strict=True)


BETA_MESSAGE = (
    "You must provide the 'OpenAI-Beta' header to access the Assistants API. "
    "Please try again by setting the header 'OpenAI-Beta: assistants=v2'."
)


async def read_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request(
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)"
        ) from None
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    return data


def parse_body(model: type[M], data: Mapping[str, Any]) -> M:
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        deepest = max(exc.errors(), key=lambda error: len(error["loc"]))
        raise _validation_error(deepest, data) from None


def _validation_error(error: ErrorDetails, data: Mapping[str, Any]) -> ApiError:
    param = _param_name(error["loc"], data)
    kind = error["type"]
    if kind == "missing":
        return bad_request(f"Missing required parameter: '{param}'.", param=param)
    if kind == "extra_forbidden":
        return bad_request(
            f"Unrecognized request argument supplied: {param}",
            param=param,
            code="unknown_parameter",
        )
    return bad_request(f"Invalid value for '{param}': {error['msg']}.", param=param)


def _param_name(loc: tuple[int | str, ...], data: Any) -> str:
    """``('messages', 0, 'role')`` -> ``messages[0].role``.

    Pydantic puts union tags (``str``, ``list[...]``, a discriminator value) into `loc`; they
    are the parts that do not exist in the request data, so the data is walked to drop them.
    """
    name = ""
    node = data
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(node, dict) and not last and part == node.get("type"):
            continue  # the tag of a discriminated union, e.g. ("tools", 0, "function", ...)
        if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and part in node:
            node = node[part]
        elif not last or isinstance(part, int) or not part.isidentifier() or part in _TAGS:
            continue
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else part)
    return name


_TAGS = frozenset({"str", "int", "float", "bool", "dict", "list", "none"})


def json_response(
    data: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return JSONResponse(dict(data), status_code=status, headers=dict(headers or {}))


def assistants_api(handler: Handler) -> Handler:
    """Guard an Assistants endpoint: it needs ``OpenAI-Beta: assistants=v2``."""

    async def guarded(request: Request) -> Response:
        beta = request.headers.get("openai-beta", "")
        if "assistants=v2" not in [part.strip() for part in beta.split(",")]:
            raise bad_request(BETA_MESSAGE, code="invalid_beta")
        return await handler(request)

    guarded.__name__ = handler.__name__
    guarded.__doc__ = handler.__doc__
    return guarded
