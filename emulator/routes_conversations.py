"""``/conversations`` and their items: create, retrieve, update, delete; items list (paged by
``after``/``last_id``, newest first by default, no ``before``), create, retrieve, delete."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .errors import bad_request
from .objects import deleted_object
from .paging import ListQuery, page
from .parsing import json_response, parse_body, read_json
from .responses_context import input_items
from .responses_objects import conversation_object, item_list
from .responses_schemas import ConversationCreate, ConversationUpdate, ItemsCreate
from .state import emulator_state

__all__ = ["conversation_routes"]


async def create_conversation(request: Request) -> Response:
    api = emulator_state(request).store.responses_api
    body = parse_body(ConversationCreate, await read_json(request))
    items = input_items(body.items or [], api)
    conversation = api.add_conversation(conversation_object(body.metadata))
    api.add_items(conversation["id"], items)
    return json_response(conversation)


async def retrieve_conversation(request: Request) -> Response:
    api = emulator_state(request).store.responses_api
    return json_response(api.conversation(request.path_params["conversation_id"]))


async def update_conversation(request: Request) -> Response:
    api = emulator_state(request).store.responses_api
    conversation = api.conversation(request.path_params["conversation_id"])
    body = parse_body(ConversationUpdate, await read_json(request))
    conversation["metadata"] = dict(body.metadata)
    return json_response(conversation)


async def delete_conversation(request: Request) -> Response:
    api = emulator_state(request).store.responses_api
    conversation_id = request.path_params["conversation_id"]
    api.delete_conversation(conversation_id)
    return json_response(deleted_object(conversation_id, "conversation"))


async def list_items(request: Request) -> Response:
    api = emulator_state(request).store.responses_api
    items = api.conversation_items(request.path_params["conversation_id"])
    if "before" in request.query_params:
        raise bad_request(
            "Unrecognized request argument supplied: before",
            param="before",
            code="unknown_parameter",
        )
    return json_response(page(items, ListQuery.from_params(request.query_params)))


async def create_items(request: Request) -> Response:
    api = emulator_state(request).store.responses_api
    conversation = api.conversation(request.path_params["conversation_id"])
    body = parse_body(ItemsCreate, await read_json(request))
    items = input_items(body.items, api)
    return json_response(item_list(api.add_items(conversation["id"], items)))


async def retrieve_item(request: Request) -> Response:
    api = emulator_state(request).store.responses_api
    params = request.path_params
    return json_response(api.item(params["conversation_id"], params["item_id"]))


async def delete_item(request: Request) -> Response:
    api = emulator_state(request).store.responses_api
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
