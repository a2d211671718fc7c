"""``/responses`` and ``/conversations``.

Responses: create (foreground, background or streamed), retrieve (or replay its stream from
``starting_after``), cancel, delete, and the input items of a response. Every check of wire
reference B.5 (mutually exclusive state parameters, unknown ``previous_response_id``, a locked
conversation, unanswered or unknown tool calls) happens before anything changes, so an error
comes back as a plain JSON answer even when a stream was asked for.

Conversations: create, retrieve, update, delete; items list (paged by ``after``/``last_id``,
newest first by default, no ``before``), create, retrieve, delete.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..common.errors import bad_request
from ..common.faults import FAULT_SCOPE_KEY, Fault
from ..common.paging import ListQuery, page
from ..common.parsing import json_response, parse_body, read_json
from ..common.state import EmulatorState, emulator_state
from ..common.wire import JsonObj, deleted_object
from .context import check_tool_outputs, history_of, input_items
from .events import stream_response
from .objects import conversation_object, item_list, response_object
from .profile_checks import check_profile
from .schemas import (
    ConversationCreate,
    ConversationUpdate,
    FunctionTool,
    ItemsCreate,
    ResponseCreate,
)
from .store import ResponseBook

__all__ = ["conversation_routes", "response_routes"]

LOCKED_MESSAGE = (
    "Another process is currently operating on this conversation. Please retry in a few seconds."
)
EXCLUSIVE_MESSAGE = (
    "Mutually exclusive parameters: Ensure you are only providing one of: "
    "'previous_response_id' or 'conversation'."
)
_ECHOED_FIELDS = frozenset(
    {
        "model",
        "instructions",
        "max_output_tokens",
        "max_tool_calls",
        "parallel_tool_calls",
        "previous_response_id",
        "prompt_cache_key",
        "reasoning",
        "safety_identifier",
        "temperature",
        "text",
        "tool_choice",
        "top_logprobs",
        "top_p",
        "truncation",
        "user",
        "metadata",
        "service_tier",
    }
)


def _tools(body: ResponseCreate) -> list[JsonObj]:
    """The tools as the response echoes them: as sent (``strict`` stays null when not sent)."""
    tools = []
    for tool in body.tools or []:
        echoed = tool.model_dump(exclude_none=True)
        if isinstance(tool, FunctionTool):
            echoed = {"description": None, "parameters": None, **echoed, "strict": tool.strict}
        tools.append(echoed)
    return tools


def _new_response(
    state: EmulatorState, body: ResponseCreate, fault: Fault | None
) -> tuple[JsonObj, ResponseBook]:
    """A new response and its book, after every check that can refuse the request."""
    api = state.responses_store
    conversation_id = body.conversation_id
    if conversation_id is not None and body.previous_response_id is not None:
        raise bad_request(EXCLUSIVE_MESSAGE, code="mutually_exclusive_parameters")
    check_profile(state.config.server_profile, body)
    background = bool(body.background)
    # A server that keeps no responses turns `store` off silently (as vLLM does).
    store = body.store is not False and state.config.server_profile.keeps_responses
    if background and not store:
        raise bad_request("Background responses need store=true.", param="store")
    previous = api.previous(body.previous_response_id) if body.previous_response_id else None
    if conversation_id is not None:
        api.conversation(conversation_id)
        locked = fault is not None and fault.conversation_locked
        if locked or api.active_on(conversation_id) is not None:
            raise bad_request(LOCKED_MESSAGE, param="conversation", code="conversation_locked")
    new_items = input_items(body.input, api)
    check_tool_outputs(history_of(api, conversation_id, previous), new_items, previous)
    fields = body.model_dump(include=set(_ECHOED_FIELDS), exclude_none=True)
    response = response_object(
        fields,
        tools=_tools(body),
        conversation_id=conversation_id,
        background=background,
        store=store,
    )
    deadline = time.time() + state.config.run_ttl
    return response, ResponseBook(deadline=deadline, input=new_items, stream=bool(body.stream))


async def create_response(request: Request) -> Response:
    state = emulator_state(request)
    body = parse_body(ResponseCreate, await read_json(request))
    fault: Fault | None = request.scope.get(FAULT_SCOPE_KEY)
    response, book = _new_response(state, body, fault)
    state.responses_store.add_response(response, book)
    stuck = fault is not None and fault.stuck_queued and response["background"]
    state.responses.start(response, stuck=stuck)
    if book.stream:
        return stream_response(state.responses.log(response))
    if response["background"]:
        return json_response(response)
    await state.responses.wait(response)
    return json_response(response)


def _starting_after(raw: str | None) -> int:
    if raw is None or raw == "":
        return -1
    try:
        return int(raw)
    except ValueError:
        raise bad_request(
            f"Invalid 'starting_after': expected an integer, but got '{raw}' instead.",
            param="starting_after",
        ) from None


async def retrieve_response(request: Request) -> Response:
    state = emulator_state(request)
    response = state.responses_store.response(request.path_params["response_id"])
    if request.query_params.get("stream", "false").lower() not in ("true", "1"):
        return json_response(response)
    start = _starting_after(request.query_params.get("starting_after")) + 1
    book = state.responses_store.books[response["id"]]
    if not (response["background"] and book.stream):
        raise bad_request(
            "Only responses created with background=true and stream=true can be streamed again.",
            param="stream",
        )
    return stream_response(state.responses.log(response), start)


async def cancel_response(request: Request) -> Response:
    state = emulator_state(request)
    response = state.responses_store.response(request.path_params["response_id"])
    await read_json(request)  # the SDK sends an empty body; anything else must still be JSON
    state.responses.cancel(response)
    return json_response(response)


async def delete_response(request: Request) -> Response:
    state = emulator_state(request)
    response = state.responses_store.response(request.path_params["response_id"])
    state.responses.forget(response)
    return json_response(deleted_object(response["id"], "response"))


async def list_input_items(request: Request) -> Response:
    state = emulator_state(request)
    api = state.responses_store
    response = api.response(request.path_params["response_id"])
    query = ListQuery.from_params(request.query_params)
    return json_response(page(api.books[response["id"]].input, query, empty_id=""))


def response_routes(*, keeps_responses: bool = True) -> list[BaseRoute]:
    """The Responses routes; a server that keeps no responses serves only the create."""
    one = "/responses/{response_id}"
    if not keeps_responses:
        return [Route("/responses", create_response, methods=["POST"])]
    return [
        Route("/responses", create_response, methods=["POST"]),
        Route(one, retrieve_response, methods=["GET"]),
        Route(one, delete_response, methods=["DELETE"]),
        Route(f"{one}/cancel", cancel_response, methods=["POST"]),
        Route(f"{one}/input_items", list_input_items, methods=["GET"]),
    ]


async def create_conversation(request: Request) -> Response:
    api = emulator_state(request).responses_store
    body = parse_body(ConversationCreate, await read_json(request))
    items = input_items(body.items or [], api)
    conversation = api.add_conversation(conversation_object(body.metadata))
    api.add_items(conversation["id"], items)
    return json_response(conversation)


async def retrieve_conversation(request: Request) -> Response:
    api = emulator_state(request).responses_store
    return json_response(api.conversation(request.path_params["conversation_id"]))


async def update_conversation(request: Request) -> Response:
    api = emulator_state(request).responses_store
    conversation = api.conversation(request.path_params["conversation_id"])
    body = parse_body(ConversationUpdate, await read_json(request))
    conversation["metadata"] = dict(body.metadata)
    return json_response(conversation)


async def delete_conversation(request: Request) -> Response:
    api = emulator_state(request).responses_store
    conversation_id = request.path_params["conversation_id"]
    api.delete_conversation(conversation_id)
    return json_response(deleted_object(conversation_id, "conversation"))


async def list_items(request: Request) -> Response:
    api = emulator_state(request).responses_store
    items = api.conversation_items(request.path_params["conversation_id"])
    if "before" in request.query_params:
        raise bad_request(
            "Unknown parameter: 'before'.",
            param="before",
            code="unknown_parameter",
        )
    return json_response(page(items, ListQuery.from_params(request.query_params), empty_id=""))


async def create_items(request: Request) -> Response:
    api = emulator_state(request).responses_store
    conversation = api.conversation(request.path_params["conversation_id"])
    body = parse_body(ItemsCreate, await read_json(request))
    items = input_items(body.items, api)
    return json_response(item_list(api.add_items(conversation["id"], items)))


async def retrieve_item(request: Request) -> Response:
    api = emulator_state(request).responses_store
    params = request.path_params
    return json_response(api.item(params["conversation_id"], params["item_id"]))


async def delete_item(request: Request) -> Response:
    api = emulator_state(request).responses_store
    params = request.path_params
    item = api.item(params["conversation_id"], params["item_id"])
    del api.items[params["conversation_id"]][item["id"]]
    return json_response(api.conversation(params["conversation_id"]))


def conversation_routes() -> list[BaseRoute]:
    one = "/conversations/{conversation_id}"
    items = f"{one}/items"
    return [
        Route("/conversations", create_conversation, methods=["POST"]),
        Route(one, retrieve_conversation, methods=["GET"]),
        Route(one, update_conversation, methods=["POST"]),
        Route(one, delete_conversation, methods=["DELETE"]),
        Route(items, list_items, methods=["GET"]),
        Route(items, create_items, methods=["POST"]),
        Route(f"{items}/{{item_id}}", retrieve_item, methods=["GET"]),
        Route(f"{items}/{{item_id}}", delete_item, methods=["DELETE"]),
    ]
