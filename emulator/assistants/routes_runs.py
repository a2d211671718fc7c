"""``/threads/{id}/runs`` and their steps: create (JSON or SSE), poll, cancel, submit outputs.

Every check (404s, the thread lock, bad bodies) happens before anything changes, so an error
comes back as a plain JSON answer even when a stream was asked for.
"""

from __future__ import annotations

import math
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..common.errors import bad_request
from ..common.paging import ListQuery, page
from ..common.parsing import assistants_api, json_response, parse_body, read_json
from ..common.state import EmulatorState, emulator_state
from ..common.wire import JsonObj
from .effects import run_stream
from .objects import run_object, thread_object
from .routes import new_message
from .schemas import (
    MetadataUpdate,
    RunCreate,
    RunFields,
    SubmitToolOutputs,
    ThreadAndRunCreate,
    ThreadCreate,
)
from .store import RunBook

__all__ = ["run_routes"]

_ECHOED_OPTIONS = (
    "metadata",
    "temperature",
    "top_p",
    "max_prompt_tokens",
    "max_completion_tokens",
    "truncation_strategy",
    "response_format",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning_effort",
)


def _new_run(state: EmulatorState, thread_id: str, body: RunFields) -> tuple[JsonObj, RunBook]:
    assistant = state.store.assistant(body.assistant_id)
    instructions = body.instructions
    if instructions is None:
        instructions = assistant.get("instructions") or ""
    extra = body.additional_instructions if isinstance(body, RunCreate) else None
    if extra:
        instructions = f"{instructions}\n\n{extra}".strip()
    tools = (
        [tool.model_dump(exclude_unset=True) for tool in body.tools]
        if body.tools is not None
        else list(assistant["tools"])
    )
    created = time.time()
    deadline = created + state.config.run_ttl
    options = body.model_dump(include=set(_ECHOED_OPTIONS), exclude_none=True)
    options.setdefault("response_format", assistant.get("response_format"))
    run = run_object(
        thread_id,
        assistant["id"],
        model=body.model or assistant["model"],
        instructions=instructions,
        tools=tools,
        expires_at=math.ceil(deadline),
        options=options,
    )
    return run, RunBook(deadline=deadline)


async def create_run(request: Request) -> Response:
    state = emulator_state(request)
    thread = state.store.thread(request.path_params["thread_id"])
    body = parse_body(RunCreate, await read_json(request))
    run, book = _new_run(state, thread["id"], body)
    active = state.store.active_run(thread["id"])
    if active is not None:
        raise bad_request(f"Thread {thread['id']} already has an active run {active['id']}.")
    for message in body.additional_messages or []:
        state.store.add_message(new_message(thread["id"], message))
    state.store.add_run(run, book)
    state.engine.start(run)
    if body.stream:
        return run_stream(state.streams.log(run["id"]), 0)
    return json_response(run, headers=state.run_headers)


async def create_thread_and_run(request: Request) -> Response:
    """``POST /threads/runs``: every check (assistant, bodies) before the thread is made."""
    state = emulator_state(request)
    body = parse_body(ThreadAndRunCreate, await read_json(request))
    given = body.thread or ThreadCreate()
    state.store.assistant(body.assistant_id)
    thread = thread_object(given.metadata, given.tool_resources or body.tool_resources)
    run, book = _new_run(state, thread["id"], body)
    state.store.add_thread(thread)
    for message in given.messages:
        state.store.add_message(new_message(thread["id"], message))
    state.store.add_run(run, book)
    state.engine.start(run)
    if body.stream:
        return run_stream(state.streams.log(run["id"]), 0)
    return json_response(run, headers=state.run_headers)


async def update_run(request: Request) -> Response:
    state = emulator_state(request)
    params = request.path_params
    run = state.store.run(params["thread_id"], params["run_id"])
    body = parse_body(MetadataUpdate, await read_json(request))
    if "metadata" in body.model_fields_set:
        run["metadata"] = dict(body.metadata or {})
    return json_response(run, headers=state.run_headers)


async def list_runs(request: Request) -> Response:
    state = emulator_state(request)
    thread = state.store.thread(request.path_params["thread_id"])
    query = ListQuery.from_params(request.query_params)
    return json_response(page(list(state.store.runs[thread["id"]].values()), query))


async def retrieve_run(request: Request) -> Response:
    state = emulator_state(request)
    params = request.path_params
    run = state.store.run(params["thread_id"], params["run_id"])
    return json_response(run, headers=state.run_headers)


async def cancel_run(request: Request) -> Response:
    state = emulator_state(request)
    params = request.path_params
    run = state.store.run(params["thread_id"], params["run_id"])
    await read_json(request)  # the SDK sends an empty body; anything else must still be JSON
    state.engine.cancel(run)
    return json_response(run, headers=state.run_headers)


async def submit_tool_outputs(request: Request) -> Response:
    state = emulator_state(request)
    params = request.path_params
    run = state.store.run(params["thread_id"], params["run_id"])
    body = parse_body(SubmitToolOutputs, await read_json(request))
    outputs = [(item.tool_call_id, item.output) for item in body.tool_outputs]
    # The stream reads on from where the run's log stands now: the events of this submit on.
    start = len(state.streams.log(run["id"])) if run["status"] == "requires_action" else 0
    state.engine.submit(run, outputs)
    if body.stream:
        return run_stream(state.streams.log(run["id"]), start)
    return json_response(run, headers=state.run_headers)


async def list_steps(request: Request) -> Response:
    state = emulator_state(request)
    params = request.path_params
    run = state.store.run(params["thread_id"], params["run_id"])
    query = ListQuery.from_params(request.query_params)
    return json_response(page(state.store.run_steps(run["id"]), query))


async def retrieve_step(request: Request) -> Response:
    state = emulator_state(request)
    params = request.path_params
    step = state.store.step(params["thread_id"], params["run_id"], params["step_id"])
    return json_response(step)


def run_routes() -> list[BaseRoute]:
    runs = "/threads/{thread_id}/runs"
    run = f"{runs}/{{run_id}}"
    return [
        # Before the thread routes: "/threads/runs" is not the thread "runs".
        Route("/threads/runs", assistants_api(create_thread_and_run), methods=["POST"]),
        Route(runs, assistants_api(create_run), methods=["POST"]),
        Route(run, assistants_api(update_run), methods=["POST"]),
        Route(runs, assistants_api(list_runs), methods=["GET"]),
        Route(run, assistants_api(retrieve_run), methods=["GET"]),
        Route(f"{run}/cancel", assistants_api(cancel_run), methods=["POST"]),
        Route(f"{run}/submit_tool_outputs", assistants_api(submit_tool_outputs), methods=["POST"]),
        Route(f"{run}/steps", assistants_api(list_steps), methods=["GET"]),
        Route(f"{run}/steps/{{step_id}}", assistants_api(retrieve_step), methods=["GET"]),
    ]
