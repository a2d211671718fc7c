"""``/assistants``, ``/threads`` and ``/threads/{id}/messages``: assistants, threads and their
messages (create, list, retrieve, modify, delete).

A thread is locked while one of its runs is active: adding a message answers 400.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..common.errors import bad_request
from ..common.paging import ListQuery, page
from ..common.parsing import assistants_api, json_response, parse_body, read_json
from ..common.state import emulator_state
from ..common.wire import JsonObj, deleted_object
from .objects import assistant_object, message_object, text_block, thread_object
from .schemas import (
    AssistantCreate,
    AssistantUpdate,
    ImageFilePart,
    ImageUrlPart,
    MessageCreate,
    MetadataUpdate,
    ThreadCreate,
    ThreadUpdate,
)

__all__ = ["assistant_routes", "new_message", "thread_routes"]


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


def new_message(thread_id: str, body: MessageCreate) -> JsonObj:
    """A completed message from a create request (user or assistant role, no run)."""
    if isinstance(body.content, str):
        content = [text_block(body.content)]
    else:
        content = []
        for part in body.content:
            if isinstance(part, ImageUrlPart):
                content.append(
                    {"type": "image_url", "image_url": {"detail": "auto", **part.image_url}}
                )
            elif isinstance(part, ImageFilePart):
                content.append(
                    {"type": "image_file", "image_file": {"detail": "auto", **part.image_file}}
                )
            else:
                content.append(text_block(part.text))
    return message_object(
        thread_id,
        body.role,
        content,
        attachments=body.attachments,
        metadata=body.metadata,
    )


async def create_thread(request: Request) -> Response:
    body = parse_body(ThreadCreate, await read_json(request))
    store = emulator_state(request).store
    thread = store.add_thread(thread_object(body.metadata, body.tool_resources))
    for message in body.messages:
        store.add_message(new_message(thread["id"], message))
    return json_response(thread)


async def retrieve_thread(request: Request) -> Response:
    store = emulator_state(request).store
    return json_response(store.thread(request.path_params["thread_id"]))


async def update_thread(request: Request) -> Response:
    store = emulator_state(request).store
    thread = store.thread(request.path_params["thread_id"])
    body = parse_body(ThreadUpdate, await read_json(request))
    if "metadata" in body.model_fields_set:
        thread["metadata"] = dict(body.metadata or {})
    if "tool_resources" in body.model_fields_set:
        thread["tool_resources"] = dict(body.tool_resources or {})
    return json_response(thread)


async def delete_thread(request: Request) -> Response:
    state = emulator_state(request)
    thread_id = request.path_params["thread_id"]
    state.engine.forget(state.store.delete_thread(thread_id))
    return json_response(deleted_object(thread_id, "thread"))


async def create_message(request: Request) -> Response:
    store = emulator_state(request).store
    thread = store.thread(request.path_params["thread_id"])
    body = parse_body(MessageCreate, await read_json(request))
    active = store.active_run(thread["id"])
    if active is not None:
        raise bad_request(
            f"Can't add messages to {thread['id']} while a run {active['id']} is active."
        )
    return json_response(store.add_message(new_message(thread["id"], body)))


async def list_messages(request: Request) -> Response:
    store = emulator_state(request).store
    thread = store.thread(request.path_params["thread_id"])
    query = ListQuery.from_params(request.query_params)
    messages = list(store.messages[thread["id"]].values())
    run_id = request.query_params.get("run_id")
    if run_id:
        messages = [message for message in messages if message["run_id"] == run_id]
    return json_response(page(messages, query))


async def retrieve_message(request: Request) -> Response:
    store = emulator_state(request).store
    params = request.path_params
    return json_response(store.message(params["thread_id"], params["message_id"]))


async def update_message(request: Request) -> Response:
    store = emulator_state(request).store
    params = request.path_params
    message = store.message(params["thread_id"], params["message_id"])
    body = parse_body(MetadataUpdate, await read_json(request))
    if "metadata" in body.model_fields_set:
        message["metadata"] = dict(body.metadata or {})
    return json_response(message)


async def delete_message(request: Request) -> Response:
    store = emulator_state(request).store
    params = request.path_params
    message = store.message(params["thread_id"], params["message_id"])
    del store.messages[params["thread_id"]][message["id"]]
    return json_response(deleted_object(message["id"], "thread.message"))


def thread_routes() -> list[BaseRoute]:
    thread = "/threads/{thread_id}"
    message = f"{thread}/messages/{{message_id}}"
    return [
        Route("/threads", assistants_api(create_thread), methods=["POST"]),
        Route(thread, assistants_api(retrieve_thread), methods=["GET"]),
        Route(thread, assistants_api(update_thread), methods=["POST"]),
        Route(thread, assistants_api(delete_thread), methods=["DELETE"]),
        Route(f"{thread}/messages", assistants_api(create_message), methods=["POST"]),
        Route(f"{thread}/messages", assistants_api(list_messages), methods=["GET"]),
        Route(message, assistants_api(retrieve_message), methods=["GET"]),
        Route(message, assistants_api(update_message), methods=["POST"]),
        Route(message, assistants_api(delete_message), methods=["DELETE"]),
    ]
