"""``/assistants``: create, list, retrieve, update, delete."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .objects import assistant_object, deleted_object
from .paging import ListQuery, page
from .parsing import assistants_api, json_response, parse_body, read_json
from .schemas import AssistantCreate, AssistantUpdate
from .state import emulator_state

__all__ = ["assistant_routes"]


async def create_assistant(request: Request) -> Response:
    body = parse_body(AssistantCreate, await read_json(request))
    assistant = assistant_object(body.model_dump(exclude_unset=True))
    return json_response(emulator_state(request).store.add_assistant(assistant))


async def list_assistants(request: Request) -> Response:
    query = ListQuery.from_params(request.query_params)
    store = emulator_state(request).store
    return json_response(page(list(store.assistants.values()), query))


async def retrieve_assistant(request: Request) -> Response:
    store = emulator_state(request).store
    return json_response(store.assistant(request.path_params["assistant_id"]))


async def update_assistant(request: Request) -> Response:
    store = emulator_state(request).store
    assistant = store.assistant(request.path_params["assistant_id"])
    body = parse_body(AssistantUpdate, await read_json(request))
    changes = body.model_dump(exclude_unset=True)
    if "model" in changes and changes["model"] is None:
        del changes["model"]
    for key in ("metadata", "tool_resources"):
        if key in changes and changes[key] is None:
            changes[key] = {}
    if changes.get("response_format", "auto") is None:
        changes["response_format"] = "auto"
    assistant.update(changes)
    return json_response(assistant)


async def delete_assistant(request: Request) -> Response:
    store = emulator_state(request).store
    assistant = store.assistant(request.path_params["assistant_id"])
    del store.assistants[assistant["id"]]
    return json_response(deleted_object(assistant["id"], "assistant"))


def assistant_routes() -> list[BaseRoute]:
    return [
        Route("/assistants", assistants_api(create_assistant), methods=["POST"]),
        Route("/assistants", assistants_api(list_assistants), methods=["GET"]),
        Route("/assistants/{assistant_id}", assistants_api(retrieve_assistant), methods=["GET"]),
        Route("/assistants/{assistant_id}", assistants_api(update_assistant), methods=["POST"]),
        Route("/assistants/{assistant_id}", assistants_api(delete_assistant), methods=["DELETE"]),
    ]
