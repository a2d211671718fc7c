"""Reading requests and writing answers: JSON bodies, the beta header, run-poll headers.

A body that is empty is ``{}`` (the SDK's cancel sends no body); one that is not a JSON object,
or fails its pydantic model, is a 400 `invalid_request_error` naming the field, never a 422.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any, ClassVar, TypeVar

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
    # How the API names a field it does not know (the Responses API words it differently).
    UNKNOWN_PARAMETER: ClassVar[str] = "Unrecognized request argument supplied: {param}"


BETA_MESSAGE = (
    "You must provide the 'OpenAI-Beta' header to access the Assistants API. "
    "Please try again by setting the header 'OpenAI-Beta: assistants=v2'."
)


V1_MESSAGE = (
    "The v1 Assistants API has been retired. Please try again with the v2 API by setting the "
    "header 'OpenAI-Beta: assistants=v2'."
)
PARSE_MESSAGE = (
    "We could not parse the JSON body of your request. (HINT: This likely means you "
    "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload.)"
)
MAX_DEPTH = 128


async def read_json(request: Request) -> dict[str, Any]:
    """The body as a JSON object; 400 for anything the server could not store and serve back:
    not JSON, nested deeper than `MAX_DEPTH`, or text that is not valid Unicode (a lone
    surrogate escape such as ``"\\ud800"``)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise bad_request(PARSE_MESSAGE) from None
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    _check_tree(data)
    return data


def _check_tree(data: Any) -> None:
    """Walk the parsed body without recursion (it may be deep): bound the depth, and refuse
    strings that cannot be encoded as UTF-8."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise bad_request(
                f"Invalid body: JSON nested deeper than {MAX_DEPTH} levels.",
                code="invalid_value",
            )
        if isinstance(node, str):
            _check_text(node)
        elif isinstance(node, dict):
            for key, value in node.items():
                _check_text(key)
                pending.append((value, depth + 1))
        elif isinstance(node, list):
            pending.extend((value, depth + 1) for value in node)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise bad_request(
            f"{PARSE_MESSAGE} The body holds a string that is not valid Unicode "
            "(an unpaired surrogate escape)."
        ) from None


def parse_body(model: type[M], data: Mapping[str, Any]) -> M:
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        deepest = max(exc.errors(), key=lambda error: len(error["loc"]))
        raise _validation_error(deepest, data, model) from None


def _validation_error(
    error: ErrorDetails, data: Mapping[str, Any], model: type[BaseModel]
) -> ApiError:
    param = _param_name(error["loc"], data)
    kind = error["type"]
    if kind == "missing":
        return bad_request(f"Missing required parameter: '{param}'.", param=param)
    if kind == "union_tag_invalid":  # an unknown ``type`` of a tool, item, content part
        context = error.get("ctx") or {}
        return bad_request(
            f"Invalid value: '{context.get('tag')}'. "
            f"Supported values are: {context.get('expected_tags')}.",
            param=f"{param}.type",
            code="invalid_value",
        )
    if kind == "extra_forbidden":
        return bad_request(
            getattr(model, "UNKNOWN_PARAMETER", Body.UNKNOWN_PARAMETER).format(param=param),
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
        parts = [part.strip() for part in request.headers.get("openai-beta", "").split(",")]
        if "assistants=v2" not in parts:
            message = V1_MESSAGE if "assistants=v1" in parts else BETA_MESSAGE
            raise bad_request(message, code="invalid_beta")
        return await handler(request)

    guarded.__name__ = handler.__name__
    guarded.__doc__ = handler.__doc__
    return guarded
