"""Streamed runs (SSE): the event order of the wire reference and the SDK helpers' callbacks."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from openai import AssistantEventHandler, AsyncAssistantEventHandler, AsyncOpenAI, OpenAI
from openai.types.beta import AssistantStreamEvent
from openai.types.beta.threads import Message, Run, Text, TextDelta
from openai.types.beta.threads.runs import RunStep, ToolCall

from emulator import (
    DEMO_ASSISTANT_ID,
    CallTools,
    EmulatorServer,
    Fail,
    Reply,
    ScriptedModel,
    Stall,
    ToolSpec,
)

from .helpers import start_run

STREAM_A = [
    "thread.run.created",
    "thread.run.queued",
    "thread.run.in_progress",
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.run.step.delta",
    "thread.run.requires_action",
]
MESSAGE_PART = [
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.message.created",
    "thread.message.in_progress",
    "thread.message.delta",
    "thread.message.completed",
    "thread.run.step.completed",
    "thread.run.completed",
]
STREAM_B = [
    "thread.run.queued",
    "thread.run.in_progress",
    "thread.run.step.completed",
    *MESSAGE_PART,
]


def squash(names: list[str]) -> list[str]:
    """Collapse runs of repeated delta events, whose count is an implementation detail."""
    out: list[str] = []
    for name in names:
        if not (out and name == out[-1] and name.endswith(".delta")):
            out.append(name)
    return out


class Recorder(AssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []
        self.calls: list[tuple[str, Any]] = []

    def on_event(self, event: AssistantStreamEvent) -> None:
        self.events.append(event.event)

    def on_run_step_created(self, run_step: RunStep) -> None:
        self.calls.append(("step_created", run_step.type))

    def on_run_step_done(self, run_step: RunStep) -> None:
        self.calls.append(("step_done", run_step.type))

    def on_tool_call_created(self, tool_call: ToolCall) -> None:
        assert tool_call.type == "function"
        self.calls.append(("tool_created", tool_call.function.name))

    def on_tool_call_done(self, tool_call: ToolCall) -> None:
        assert tool_call.type == "function"
        self.calls.append(("tool_done", (tool_call.function.name, tool_call.function.arguments)))

    def on_message_created(self, message: Message) -> None:
        self.calls.append(("message_created", message.role))

    def on_text_created(self, text: Text) -> None:
        self.calls.append(("text_created", text.value))

    def on_text_delta(self, delta: TextDelta, snapshot: Text) -> None:
        self.calls.append(("text_delta", delta.value))

    def on_text_done(self, text: Text) -> None:
        self.calls.append(("text_done", text.value))


def test_stream_then_submit_tool_outputs_stream(client: OpenAI, server: EmulatorServer) -> None:
    text = "The answer, streamed in several pieces."
    server.model = ScriptedModel(
        [
            CallTools([ToolSpec("get_stock_price", {"symbol": "AAPL"}), ToolSpec("other", "{}")]),
            Reply(text),
        ]
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "go"}])

    first = Recorder()
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=DEMO_ASSISTANT_ID, event_handler=first
    ) as stream:
        stream.until_done()
        paused = stream.get_final_run()
    assert squash(first.events) == STREAM_A
    assert paused.status == "requires_action"
    assert paused.required_action is not None
    calls = paused.required_action.submit_tool_outputs.tool_calls
    assert [call.function.name for call in calls] == ["get_stock_price", "other"]
    assert ("tool_created", "get_stock_price") in first.calls
    assert ("tool_done", ("get_stock_price", '{"symbol": "AAPL"}')) in first.calls
    assert ("tool_created", "other") in first.calls
    (step,) = stream.get_final_run_steps()
    assert step.step_details.type == "tool_calls"
    assert [c.function.arguments for c in step.step_details.tool_calls if c.type == "function"] == [
        '{"symbol": "AAPL"}',
        "{}",
    ]

    second = Recorder()
    with client.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=thread.id,
        run_id=paused.id,
        tool_outputs=[{"tool_call_id": call.id, "output": "42"} for call in calls],
        event_handler=second,
    ) as stream:
        deltas = list(stream.text_deltas)
        final_run = stream.get_final_run()
        (message,) = stream.get_final_messages()
    assert squash(second.events) == STREAM_B
    assert len(deltas) > 1
    assert "".join(deltas) == text
    assert final_run.status == "completed"
    assert final_run.usage is not None
    block = message.content[0]
    assert block.type == "text"
    assert block.text.value == text
    assert (message.assistant_id, message.run_id, message.status) == (
        DEMO_ASSISTANT_ID,
        paused.id,
        "completed",
    )
    assert [kind for kind, _ in second.calls].count("text_created") == 1
    assert ("text_done", text) in second.calls
    assert ("message_created", "assistant") in second.calls


def test_raw_stream_of_a_plain_reply(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([Reply("hello there")])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])

    events = list(
        client.beta.threads.runs.create(
            thread_id=thread.id, assistant_id=DEMO_ASSISTANT_ID, stream=True
        )
    )
    names = squash([event.event for event in events])
    assert names == STREAM_A[:3] + MESSAGE_PART
    created = events[0]
    assert created.event == "thread.run.created"
    assert created.data.status == "queued"
    last = events[-1]
    assert last.event == "thread.run.completed"
    assert last.data.status == "completed"
    run_ids = {event.data.id for event in events if isinstance(event.data, Run)}
    assert run_ids == {created.data.id}


def test_sse_wire_format_ends_with_done(server: EmulatorServer, client: OpenAI) -> None:
    server.model = ScriptedModel([Fail("server_error", "boom")])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    with httpx.stream(
        "POST",
        f"{server.base_url}/threads/{thread.id}/runs",
        headers={"OpenAI-Beta": "assistants=v2", "Accept": "application/json"},
        json={"assistant_id": DEMO_ASSISTANT_ID, "stream": True},
    ) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        assert answer.headers["x-request-id"].startswith("req_")
        body = answer.read().decode()
    frames = [frame for frame in body.split("\n\n") if frame]
    assert frames[-1] == "event: done\ndata: [DONE]"
    assert frames[-2].startswith("event: thread.run.failed\ndata: {")
    assert all(frame.startswith("event: ") for frame in frames)


def test_failed_run_stream_ends_with_run_failed(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([Fail("server_error", "model fell over")])
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    recorder = Recorder()
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=DEMO_ASSISTANT_ID, event_handler=recorder
    ) as stream:
        stream.until_done()
        run = stream.get_final_run()
    assert recorder.events[-1] == "thread.run.failed"
    assert run.status == "failed"
    assert run.last_error is not None
    assert run.last_error.message == "model fell over"


def test_http_errors_come_before_any_sse(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([Stall()])
    run = start_run(client)
    with (
        pytest.raises(openai.BadRequestError),
        client.beta.threads.runs.stream(thread_id=run.thread_id, assistant_id=DEMO_ASSISTANT_ID),
    ):
        pytest.fail("the stream must not open")
    with pytest.raises(openai.BadRequestError) as not_waiting:
        client.beta.threads.runs.submit_tool_outputs(
            run_id=run.id,
            thread_id=run.thread_id,
            tool_outputs=[{"tool_call_id": "call_x", "output": "1"}],
            stream=True,
        )
    assert not_waiting.value.param == "tool_outputs"
    client.beta.threads.runs.cancel(run.id, thread_id=run.thread_id)


async def test_cancel_during_an_open_stream(server: EmulatorServer) -> None:
    server.model = ScriptedModel([Stall()])
    async with AsyncOpenAI(
        base_url=server.base_url, api_key="k", _strict_response_validation=True
    ) as client:
        thread = await client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
        stream = await client.beta.threads.runs.create(
            thread_id=thread.id, assistant_id=DEMO_ASSISTANT_ID, stream=True
        )
        names = []
        async for event in stream:
            names.append(event.event)
            if event.event == "thread.run.in_progress":
                await client.beta.threads.runs.cancel(event.data.id, thread_id=thread.id)
        assert names[-2:] == ["thread.run.cancelling", "thread.run.cancelled"]


class AsyncRecorder(AsyncAssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    async def on_text_done(self, text: Text) -> None:
        self.texts.append(text.value)


async def test_async_stream_helpers(server: EmulatorServer) -> None:
    server.model = ScriptedModel([CallTools([ToolSpec("a", {"n": 1})]), Reply("async streamed")])
    async with AsyncOpenAI(
        base_url=server.base_url, api_key="k", _strict_response_validation=True
    ) as client:
        thread = await client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
        async with client.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=DEMO_ASSISTANT_ID
        ) as stream:
            await stream.until_done()
            paused = await stream.get_final_run()
        assert paused.required_action is not None
        call = paused.required_action.submit_tool_outputs.tool_calls[0]
        recorder = AsyncRecorder()
        async with client.beta.threads.runs.submit_tool_outputs_stream(
            thread_id=thread.id,
            run_id=paused.id,
            tool_outputs=[{"tool_call_id": call.id, "output": "1"}],
            event_handler=recorder,
        ) as stream:
            await stream.until_done()
            final = await stream.get_final_run()
        assert final.status == "completed"
        assert recorder.texts == ["async streamed"]
