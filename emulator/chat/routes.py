"""``POST /chat/completions``: plain or streamed, with tool calls, driven by the same models.

A turn of the model answers the request: `Reply` is a message (`finish_reason` ``stop``),
`CallTools` an assistant message with ``tool_calls`` (``tool_calls``), `Incomplete` a reply cut
at the limit (``length``). `Fail` and `Expire` are a 500 saying not to retry (the model failed;
sending the same request again would not help) or, once a stream has begun, an error event in
it, as vLLM and OpenAI send. `Stall` holds the request until the client leaves, the server
stops or ``run_ttl`` passes. Nothing is stored: the API keeps no conversation.

Streams are chunks of ``data: {...}`` ending in ``data: [DONE]``: first the role, then the
text in pieces or each tool call opened (index, id, name) and its arguments in pieces of
``chat_argument_piece`` characters, interleaved by index when ``chat_interleave`` is set (as
some servers send parallel calls), then the chunk with the `finish_reason`, then usage when
``stream_options.include_usage`` asks for it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from ..common.config import EmulatorConfig
from ..common.errors import error_envelope
from ..common.parsing import json_response, parse_body, read_json
from ..common.state import EmulatorState, emulator_state
from ..common.structured import structured_text
from ..common.turns import CallTools, Fail, Incomplete, Reply, Stall, Turn
from ..common.wire import JsonObj, chunks, estimate_tokens, new_id, now
from ..responses.context import tool_policy
from .context import chat_context, check_messages, request_view
from .schemas import ChatCreate

__all__ = ["chat_routes"]

logger = logging.getLogger(__name__)

TEXT_CHUNKS = 4
KEEPALIVE_S = 15.0


class _Ended(Exception):
    """The model failed: its code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


async def _decide(state: EmulatorState, body: ChatCreate, view: JsonObj) -> Turn:
    """The model's turn for this request, after its delay; a `Stall` waits here."""
    model = state.model_factory()
    try:
        turn = await asyncio.to_thread(model.decide, chat_context(body, view))
    except Exception as exc:
        logger.info("model %r failed on chat completion %s: %r", model, view["id"], exc)
        return Fail("server_error", f"The model raised {type(exc).__name__}: {exc}")
    if isinstance(turn, Stall):
        await state.stopping.wait()  # until the client leaves or the server stops
    delay = turn.delay + state.config.model_delay
    if delay > 0:
        await asyncio.sleep(delay)
    return tool_policy(view).enforce(turn, first_turn=True)


async def _turn(state: EmulatorState, body: ChatCreate, view: JsonObj) -> Turn:
    try:
        async with asyncio.timeout(state.config.run_ttl):
            return await _decide(state, body, view)
    except TimeoutError:
        message = f"The model did not answer within {state.config.run_ttl:g} s (run_ttl)."
        return Fail("server_error", message)


def _format(body: ChatCreate) -> Any:
    """`response_format` as the Responses `text.format` the structured helper reads."""
    given = body.response_format or {}
    if given.get("type") == "json_schema":
        return {"type": "json_schema", **(given.get("json_schema") or {})}
    return given or None


def _message(body: ChatCreate, turn: Turn) -> tuple[JsonObj, str]:
    """The assistant message and the finish reason of a turn that answered."""
    if isinstance(turn, CallTools):
        calls = [
            {
                "id": new_id("call"),
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json()},
            }
            for call in turn.calls
        ]
        called: JsonObj = {"role": "assistant", "content": None, "tool_calls": calls}
        return {**called, "refusal": None}, "tool_calls"
    if isinstance(turn, Reply):
        text = structured_text(turn.text, _format(body))
        return {"role": "assistant", "content": text, "refusal": None}, "stop"
    if isinstance(turn, Incomplete):
        return {"role": "assistant", "content": "", "refusal": None}, "length"
    if isinstance(turn, Fail):
        raise _Ended(turn.code, turn.message)
    raise _Ended("server_error", "The model ended this turn (Expire).")


def _usage(view: JsonObj, body: ChatCreate, message: JsonObj) -> JsonObj:
    prompt = estimate_tokens(view["instructions"]) + sum(
        estimate_tokens(json.dumps(m.model_dump(exclude_none=True))) for m in body.messages
    )
    completion = estimate_tokens(json.dumps(message))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _failure(ended: _Ended) -> Response:
    envelope = error_envelope(ended.message, error_type="server_error", code=ended.code)
    return JSONResponse(envelope, status_code=500, headers={"x-should-retry": "false"})


async def _plain(state: EmulatorState, body: ChatCreate, view: JsonObj) -> Response:
    turn = await _turn(state, body, view)
    try:
        message, finish = _message(body, turn)
    except _Ended as ended:
        return _failure(ended)
    return json_response(
        {
            "id": view["id"],
            "object": "chat.completion",
            "created": now(),
            "model": body.model,
            "system_fingerprint": None,
            "choices": [
                {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            ],
            "usage": _usage(view, body, message),
        }
    )


def _chunk(view: JsonObj, body: ChatCreate, delta: JsonObj, finish: str | None = None) -> str:
    data = {
        "id": view["id"],
        "object": "chat.completion.chunk",
        "created": now(),
        "model": body.model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return f"data: {json.dumps(data)}\n\n"


def _call_deltas(calls: list[JsonObj], config: EmulatorConfig) -> list[JsonObj]:
    """Each call opened, then its arguments in pieces: call by call, or interleaved."""
    opened = [
        {
            "index": i,
            "id": c["id"],
            "type": "function",
            "function": {"name": c["function"]["name"], "arguments": ""},
        }
        for i, c in enumerate(calls)
    ]
    size = config.chat_argument_piece
    pieces = [
        [
            {"index": i, "function": {"arguments": c["function"]["arguments"][at : at + size]}}
            for at in range(0, len(c["function"]["arguments"]), size)
        ]
        for i, c in enumerate(calls)
    ]
    if not config.chat_interleave:
        return [d for i, first in enumerate(opened) for d in (first, *pieces[i])]
    deltas: list[JsonObj] = list(opened)
    for step in range(max((len(p) for p in pieces), default=0)):
        deltas.extend(p[step] for p in pieces if step < len(p))
    return deltas


async def _streamed(state: EmulatorState, body: ChatCreate, view: JsonObj) -> AsyncIterator[str]:
    yield _chunk(view, body, {"role": "assistant", "content": ""})
    turn_task = asyncio.ensure_future(_turn(state, body, view))
    try:
        while not turn_task.done():  # comments keep a client's read timeout from firing
            await asyncio.wait({turn_task}, timeout=KEEPALIVE_S)
            if not turn_task.done():
                yield ": keepalive\n\n"
        turn = turn_task.result()
    finally:
        turn_task.cancel()
    try:
        message, finish = _message(body, turn)
    except _Ended as ended:
        error = error_envelope(ended.message, error_type="server_error", code=ended.code)
        yield f"data: {json.dumps(error)}\n\n"
        return
    for piece in chunks(message.get("content") or "", TEXT_CHUNKS):
        yield _chunk(view, body, {"content": piece})
    for delta in _call_deltas(message.get("tool_calls") or [], state.config):
        yield _chunk(view, body, {"tool_calls": [delta]})
    yield _chunk(view, body, {}, finish)
    if (body.stream_options or {}).get("include_usage"):
        data = {
            "id": view["id"],
            "object": "chat.completion.chunk",
            "created": now(),
            "model": body.model,
            "choices": [],
            "usage": _usage(view, body, message),
        }
        yield f"data: {json.dumps(data)}\n\n"
    yield "data: [DONE]\n\n"


async def create_chat_completion(request: Request) -> Response:
    state = emulator_state(request)
    body = parse_body(ChatCreate, await read_json(request))
    check_messages(body.messages)
    view = request_view(body, new_id("chatcmpl"))
    if body.stream:
        return StreamingResponse(
            _streamed(state, body, view),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache"},
        )
    return await _plain(state, body, view)


def chat_routes() -> list[BaseRoute]:
    return [Route("/chat/completions", create_chat_completion, methods=["POST"])]
