"""Streamed responses (B.7): raw event order and sequence numbers, the `responses.stream`
helper (sync and async), terminal failure events, and replaying a background stream."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from emulator import (
    CallTools,
    EmulatorServer,
    Fail,
    Incomplete,
    Reply,
    ScriptedModel,
    Stall,
    ToolSpec,
)

from .responses_helpers import outputs, tool, wait_finished, wait_response_status

TOOLS = [tool("lookup", strict=True), tool("other")]

MESSAGE_EVENTS = [
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
]
CALL_EVENTS = [
    "response.output_item.added",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.output_item.done",
]


def squash(types: list[str]) -> list[str]:
    """Collapse repeated delta events, whose count is an implementation detail."""
    out: list[str] = []
    for name in types:
        if not (out and name == out[-1] and name.endswith(".delta")):
            out.append(name)
    return out


def check_numbering(events: list[Any]) -> None:
    assert [event.sequence_number for event in events] == list(range(len(events)))
    ids = {event.response.id for event in events if hasattr(event, "response")}
    assert len(ids) == 1


def test_raw_stream_of_a_text_reply(client: OpenAI, server: EmulatorServer) -> None:
    text = "A streamed reply in several pieces."
    server.model = ScriptedModel([Reply(text)])
    events = list(client.responses.create(model="m", input="hi", stream=True))

    check_numbering(events)
    assert squash([e.type for e in events]) == [
        "response.created",
        "response.in_progress",
        *MESSAGE_EVENTS,
        "response.completed",
    ]
    assert events[0].response.status == "in_progress"
    assert events[0].response.output == []
    assert events[0].response.usage is None
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) > 1
    assert "".join(deltas) == text
    final = events[-1].response
    assert final.status == "completed"
    assert final.output_text == text
    assert final.usage is not None


def test_raw_stream_of_parallel_function_calls(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel(
        [CallTools([ToolSpec("lookup", {"q": "long enough query"}), ToolSpec("other")])]
    )
    events = list(client.responses.create(model="m", input="go", tools=TOOLS, stream=True))

    check_numbering(events)
    assert squash([e.type for e in events]) == [
        "response.created",
        "response.in_progress",
        *CALL_EVENTS,
        *CALL_EVENTS,
        "response.completed",
    ]
    added = [e for e in events if e.type == "response.output_item.added"]
    assert [e.output_index for e in added] == [0, 1]
    assert added[0].item.type == "function_call"
    assert added[0].item.arguments == ""
    first_args = "".join(
        e.delta
        for e in events
        if e.type == "response.function_call_arguments.delta" and e.output_index == 0
    )
    assert first_args == '{"q": "long enough query"}'


def test_stream_helper_text_and_final_response(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([Reply("Hello from the helper.")])
    snapshots: list[str] = []
    with client.responses.stream(model="m", input="hi") as stream:
        for event in stream:
            if event.type == "response.output_text.delta":
                snapshots.append(event.snapshot)
        final = stream.get_final_response()
    assert snapshots[-1] == "Hello from the helper."
    assert len(snapshots) > 1
    assert final.output_text == "Hello from the helper."
    assert final.status == "completed"


def test_stream_helper_function_call_then_continuation(
    client: OpenAI, server: EmulatorServer
) -> None:
    server.model = ScriptedModel([CallTools([ToolSpec("lookup", {"q": "x"})]), Reply("done")])
    conversation = client.conversations.create()
    with client.responses.stream(
        model="m", input="go", tools=TOOLS, conversation=conversation.id
    ) as stream:
        argument_snapshots = [
            e.snapshot for e in stream if e.type == "response.function_call_arguments.delta"
        ]
        first = stream.get_final_response()
    assert argument_snapshots[-1] == '{"q": "x"}'
    call = first.output[0]
    assert call.type == "function_call"
    assert call.parsed_arguments == {"q": "x"}  # strict tool: the helper parses the arguments

    with client.responses.stream(
        model="m", input=outputs(first), tools=TOOLS, conversation=conversation.id
    ) as stream:
        assert stream.get_final_response().output_text == "done"


def test_failed_and_incomplete_streams_end_with_their_event(
    client: OpenAI, server: EmulatorServer
) -> None:
    server.model = ScriptedModel([Fail("server_error", "boom"), Incomplete()])
    failed = list(client.responses.create(model="m", input="x", stream=True))
    incomplete = list(client.responses.create(model="m", input="y", stream=True))

    assert [e.type for e in failed] == [
        "response.created",
        "response.in_progress",
        "response.failed",
    ]
    assert failed[-1].response.error is not None
    assert failed[-1].response.error.message == "boom"
    assert [e.type for e in incomplete][-1] == "response.incomplete"
    details = incomplete[-1].response.incomplete_details
    assert details is not None
    assert details.reason == "max_output_tokens"


def test_background_stream_is_replayed_from_zero(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([Reply("replayed text", delay=0.05)])
    live = client.responses.create(model="m", input="hi", background=True, stream=True)
    events = list(live)
    assert squash([e.type for e in events]) == [
        "response.created",
        "response.queued",
        "response.in_progress",
        *MESSAGE_EVENTS,
        "response.completed",
    ]
    assert events[0].response.status == "queued"
    response_id = events[0].response.id

    replay = list(client.responses.retrieve(response_id, stream=True))
    assert [(e.type, e.sequence_number) for e in replay] == [
        (e.type, e.sequence_number) for e in events
    ]
    tail = list(client.responses.retrieve(response_id, stream=True, starting_after=3))
    assert tail[0].sequence_number == 4
    with client.responses.stream(response_id=response_id, starting_after=2) as stream:
        resumed = [e.sequence_number for e in stream]
        assert stream.get_final_response().output_text == "replayed text"
    assert resumed[0] == 3


def test_stream_of_a_running_background_response_follows_it_live(
    client: OpenAI, server: EmulatorServer
) -> None:
    server.model = ScriptedModel([Reply("slow", delay=0.2)])
    first = client.responses.create(model="m", input="hi", background=True, stream=True)
    response_id = next(iter(first)).response.id
    first.close()
    wait_response_status(client, response_id, "in_progress")
    types = [e.type for e in client.responses.retrieve(response_id, stream=True)]
    assert types[0] == "response.created"
    assert types[-1] == "response.completed"


def test_cancel_ends_an_open_background_stream(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([Stall()])
    stream = client.responses.create(model="m", input="hang", background=True, stream=True)
    seen: list[str] = []
    for event in stream:
        seen.append(event.type)
        if event.type == "response.in_progress":
            client.responses.cancel(event.response.id)
    assert seen == ["response.created", "response.queued", "response.in_progress"]
    assert wait_finished(client, event.response.id).status == "cancelled"


def test_non_background_response_cannot_be_streamed_again(
    client: OpenAI, server: EmulatorServer
) -> None:
    server.model = ScriptedModel([Reply("once")])
    response = client.responses.create(model="m", input="hi")
    with pytest.raises(openai.BadRequestError):
        list(client.responses.retrieve(response.id, stream=True))


async def test_async_raw_stream_and_helper(
    async_client: AsyncOpenAI, server: EmulatorServer
) -> None:
    server.model = ScriptedModel(
        [Reply("async text"), CallTools([ToolSpec("lookup", {"q": "a"})]), Reply("after")]
    )
    stream = await async_client.responses.create(model="m", input="hi", stream=True)
    types = [event.type async for event in stream]
    assert types[0] == "response.created"
    assert types[-1] == "response.completed"

    async with async_client.responses.stream(model="m", input="go", tools=TOOLS) as helper:
        deltas = [
            e.delta async for e in helper if e.type == "response.function_call_arguments.delta"
        ]
        first = await helper.get_final_response()
    assert "".join(deltas) == '{"q": "a"}'

    async with async_client.responses.stream(
        model="m", input=outputs(first), tools=TOOLS, previous_response_id=first.id
    ) as helper:
        final = await helper.get_final_response()
    assert final.output_text == "after"
