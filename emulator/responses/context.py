"""What a response's model sees, and the checks on a new response's input.

A response continues a history: the items of its conversation, or of its
``previous_response_id`` chain (each response's input, then its output), or nothing. Its own
input items follow. From that list the same `TurnContext` the Assistants runs build is made, so
one model serves both protocols:

- `messages`: the message items, oldest first (role and text parts; assistant messages carry
  the id of the response that wrote them as `run_id`);
- `tool_turns`: this exchange's function calls, i.e. those after the newest user message, one
  turn per group of consecutive ``function_call`` items, each with its output once given;
- `tool_names`: the function tools of this request the model may call (see `common.choice`);
- `thread_id` is the conversation id ("" without one), `run_id` the response id,
  `assistant_id` is "" (Responses have no assistant) and `protocol` is ``"responses"``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from ..common.choice import ToolPolicy
from ..common.errors import bad_request
from ..common.turns import ThreadMessage, ToolExchange, TurnContext
from ..common.wire import JsonObj, new_id
from .objects import (
    function_call_item,
    function_call_output_item,
    item_text,
    message_item,
    reasoning_item,
)
from .schemas import (
    FunctionCallInput,
    FunctionCallOutputInput,
    InputItem,
    ItemReferenceInput,
    MessageInput,
    ReasoningInput,
)
from .store import ResponsesStore

__all__ = ["check_tool_outputs", "history_of", "input_items", "tool_policy", "turn_context"]


def input_items(given: str | Sequence[InputItem] | None, store: ResponsesStore) -> list[JsonObj]:
    """The request's input as stored items, each with a fresh id (a string is a user message)."""
    if given is None:
        return []
    if isinstance(given, str):
        return [message_item("user", given)]
    return [_stored_item(item, store) for item in given]


def _stored_item(item: InputItem, store: ResponsesStore) -> JsonObj:
    if isinstance(item, MessageInput):
        if isinstance(item.content, str):
            return message_item(item.role, item.content)
        parts = [part.model_dump(exclude_none=True) for part in item.content]
        return message_item(item.role, parts)
    if isinstance(item, FunctionCallInput):
        return function_call_item(item.call_id, item.name, item.arguments)
    if isinstance(item, FunctionCallOutputInput):
        if isinstance(item.output, str):
            return function_call_output_item(item.call_id, item.output)
        parts = [part.model_dump(exclude_none=True) for part in item.output]
        return function_call_output_item(item.call_id, parts)
    if isinstance(item, ReasoningInput):
        return reasoning_item(item.model_dump(exclude_none=True))
    assert isinstance(item, ItemReferenceInput)
    found = store.find_item(item.id)
    if found is None:
        raise bad_request(f"Item with id '{item.id}' not found.", param="input")
    referenced = copy.deepcopy(found)
    referenced["id"] = new_id(item.id.split("_", 1)[0])
    return referenced


def history_of(
    store: ResponsesStore, conversation_id: str | None, previous: JsonObj | None
) -> list[JsonObj]:
    """The items a new response continues from (before its own input)."""
    if conversation_id is not None:
        return store.conversation_items(conversation_id)
    if previous is not None:
        return store.chain(previous)
    return []


def check_tool_outputs(
    history: Sequence[JsonObj], new_items: Sequence[JsonObj], previous: JsonObj | None
) -> None:
    """The 400s of wire reference B.5: an output must answer a known call, and a response
    chained by ``previous_response_id`` must answer every call that response made."""
    known = {item["call_id"] for item in history if item["type"] == "function_call"}
    for item in new_items:
        if item["type"] == "function_call":
            known.add(item["call_id"])
        elif item["type"] == "function_call_output" and item["call_id"] not in known:
            raise bad_request(
                f"No tool call found for function call output with call_id {item['call_id']}.",
                param="input",
            )
    answered = {item["call_id"] for item in new_items if item["type"] == "function_call_output"}
    for item in new_items:  # a call replayed as input must come with its output
        if item["type"] == "function_call" and item["call_id"] not in answered:
            raise bad_request(
                f"No tool output found for function call {item['call_id']}.", param="input"
            )
    if previous is None:
        return
    for item in previous["output"]:
        if item["type"] == "function_call" and item["call_id"] not in answered:
            raise bad_request(
                f"No tool output found for function call {item['call_id']}.", param="input"
            )


def tool_policy(response: Mapping[str, Any]) -> ToolPolicy:
    """The ``tool_choice`` / ``parallel_tool_calls`` policy of `response`."""
    functions = {
        tool["name"]: tool.get("parameters")
        for tool in response["tools"]
        if tool["type"] == "function"
    }
    return ToolPolicy.of(response["tool_choice"], response["parallel_tool_calls"], functions)


def turn_context(
    response: Mapping[str, Any], items: Sequence[JsonObj], producers: Mapping[str, str]
) -> TurnContext:
    """The model's view of `response`, whose whole history (own input included) is `items`."""
    messages = tuple(
        ThreadMessage(role=item["role"], text=item_text(item), run_id=producers.get(item["id"]))
        for item in items
        if item["type"] == "message"
    )
    conversation = response["conversation"]
    return TurnContext(
        thread_id=conversation["id"] if conversation else "",
        run_id=response["id"],
        assistant_id="",
        instructions=response["instructions"] or "",
        tool_names=tool_policy(response).visible(
            [t["name"] for t in response["tools"] if t["type"] == "function"]
        ),
        messages=messages,
        tool_turns=_tool_turns(items),
        earlier_tool_calls=_earlier_calls(items),
        protocol="responses",
    )


def _exchange_start(items: Sequence[JsonObj]) -> int:
    """The index just after the newest user message: where this exchange's items begin."""
    start = 0
    for index, item in enumerate(items):
        if item["type"] == "message" and item["role"] == "user":
            start = index + 1
    return start


def _earlier_calls(items: Sequence[JsonObj]) -> tuple[ToolExchange, ...]:
    outputs = {
        item["call_id"]: item_text(item) for item in items if item["type"] == "function_call_output"
    }
    return tuple(
        ToolExchange(item["call_id"], item["name"], item["arguments"], outputs.get(item["call_id"]))
        for item in items[: _exchange_start(items)]
        if item["type"] == "function_call"
    )


def _tool_turns(items: Sequence[JsonObj]) -> tuple[tuple[ToolExchange, ...], ...]:
    exchange = items[_exchange_start(items) :]
    outputs = {
        item["call_id"]: item_text(item)
        for item in exchange
        if item["type"] == "function_call_output"
    }
    turns: list[list[ToolExchange]] = []
    previous_type = None
    for item in exchange:
        if item["type"] == "function_call":
            if previous_type != "function_call":
                turns.append([])
            turns[-1].append(
                ToolExchange(
                    call_id=item["call_id"],
                    name=item["name"],
                    arguments=item["arguments"],
                    output=outputs.get(item["call_id"]),
                )
            )
        previous_type = item["type"]
    return tuple(tuple(turn) for turn in turns)
