"""Responses API over the real SDK: tool calls and their continuation, background mode, cancel,
delete, outcomes of every scripted turn, and the model's view of a response."""

from __future__ import annotations

import openai
import pytest
from openai import OpenAI

from emulator import (
    CallTools,
    EmulatorServer,
    Expire,
    Fail,
    Incomplete,
    Reply,
    ScriptedModel,
    Stall,
    ToolSpec,
)

from .conftest import error_message, make_client
from .responses_helpers import (
    calls,
    outputs,
    tool,
    wait_finished,
    wait_response_status,
)

WEATHER = [tool("get_weather"), tool("get_time")]


def test_tool_calls_continue_in_a_conversation(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel(
        [CallTools([ToolSpec("get_weather", {"city": "Paris"})]), Reply("Sunny, 20C.")]
    )
    conversation = client.conversations.create()

    first = client.responses.create(
        model="m", input="weather?", tools=WEATHER, conversation=conversation.id
    )
    assert first.status == "completed"
    assert first.output_text == ""
    assert calls(first) == [("get_weather", {"city": "Paris"})]
    assert first.conversation is not None
    assert first.conversation.id == conversation.id
    assert first.usage is not None
    assert first.usage.input_tokens_details.cache_write_tokens == 0

    second = client.responses.create(
        model="m",
        input=outputs(first, "20C"),
        tools=WEATHER,
        conversation={"id": conversation.id},
    )
    assert second.status == "completed"
    assert second.output_text == "Sunny, 20C."
    assert second.completed_at is not None

    items = client.conversations.items.list(conversation.id, order="asc").data
    assert [item.type for item in items] == [
        "message",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert items[1].id == first.output[0].id
    assert items[3].id == second.output[0].id


def test_tool_calls_continue_by_previous_response_id(
    client: OpenAI, server: EmulatorServer
) -> None:
    model = ScriptedModel(
        [
            CallTools([ToolSpec("get_weather", {"city": "Oslo"}), ToolSpec("get_time")]),
            Reply("Cold, and late."),
        ]
    )
    server.model = model
    first = client.responses.create(model="m", input="weather and time?", tools=WEATHER)
    assert [name for name, _ in calls(first)] == ["get_weather", "get_time"]
    assert len({item.call_id for item in first.output if item.type == "function_call"}) == 2

    second = client.responses.create(
        model="m", input=outputs(first, "-5C"), tools=WEATHER, previous_response_id=first.id
    )
    assert second.previous_response_id == first.id
    assert second.output_text == "Cold, and late."

    context = model.contexts[1]
    assert context.protocol == "responses"
    assert context.run_id == second.id
    assert context.thread_id == ""
    assert [(m.role, m.text) for m in context.messages] == [("user", "weather and time?")]
    (turn,) = context.tool_turns
    assert [(call.name, call.output) for call in turn] == [
        ("get_weather", "-5C"),
        ("get_time", "-5C"),
    ]


def test_turn_context_sees_only_this_requests_tools_and_instructions(
    client: OpenAI, server: EmulatorServer
) -> None:
    model = ScriptedModel([Reply("one"), Reply("two"), Reply("three"), Reply("four")])
    server.model = model
    conversation = client.conversations.create(
        items=[{"role": "user", "content": "earlier question"}]
    )
    client.responses.create(
        model="m", input="hi", tools=WEATHER, instructions="be brief", conversation=conversation.id
    )
    client.responses.create(model="m", input="again", conversation=conversation.id)
    client.responses.create(model="m", input="x", tools=WEATHER, tool_choice="none")
    client.responses.create(
        model="m", input="x", tools=WEATHER, tool_choice={"type": "function", "name": "get_time"}
    )

    first, second, third, fourth = model.contexts
    assert first.tool_names == ("get_weather", "get_time")
    assert first.instructions == "be brief"
    assert first.thread_id == conversation.id
    assert second.tool_names == ()
    assert second.instructions == ""  # instructions are per request
    assert [(m.role, m.text) for m in second.messages] == [
        ("user", "earlier question"),
        ("user", "hi"),
        ("assistant", "one"),
        ("user", "again"),
    ]
    assert second.messages[2].run_id is not None
    assert third.tool_names == ()
    assert fourth.tool_names == ("get_time",)


def test_stateless_replay_of_function_calls(client: OpenAI, server: EmulatorServer) -> None:
    model = ScriptedModel([Reply("done")])
    server.model = model
    response = client.responses.create(
        model="m",
        input=[
            {"role": "user", "content": [{"type": "input_text", "text": "go"}]},
            {"type": "function_call", "call_id": "call_1", "name": "get_time", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "noon"},
        ],
        tools=WEATHER,
    )
    assert response.output_text == "done"
    assert response.conversation is None
    (turn,) = model.contexts[0].tool_turns
    assert [(c.call_id, c.output) for c in turn] == [("call_1", "noon")]
    items = client.responses.input_items.list(response.id, order="asc").data
    assert [item.type for item in items] == ["message", "function_call", "function_call_output"]


def test_background_response_progresses_and_is_polled(
    client: OpenAI, server: EmulatorServer
) -> None:
    server.model = ScriptedModel([Reply("later", delay=0.2)])
    response = client.responses.create(model="m", input="hi", background=True, metadata={"k": "v"})
    assert response.status == "queued"
    assert response.background is True
    assert response.output == []
    assert response.usage is None

    wait_response_status(client, response.id, "in_progress")
    done = wait_finished(client, response.id)
    assert done.status == "completed"
    assert done.output_text == "later"
    assert done.metadata == {"k": "v"}
    assert done.usage is not None
    assert done.usage.total_tokens > 0


def test_cancel_background_response_is_idempotent(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([Stall()])
    conversation = client.conversations.create()
    response = client.responses.create(
        model="m", input="hang", background=True, conversation=conversation.id
    )
    wait_response_status(client, response.id, "in_progress")

    cancelled = client.responses.cancel(response.id)
    assert cancelled.status == "cancelled"
    assert client.responses.cancel(response.id).status == "cancelled"
    assert client.responses.retrieve(response.id).status == "cancelled"
    # A cancelled response adds nothing and no longer locks the conversation.
    assert client.conversations.items.list(conversation.id).data == []
    server.model = ScriptedModel([Reply("free again")])
    again = client.responses.create(model="m", input="hi", conversation=conversation.id)
    assert again.output_text == "free again"


def test_cancel_finished_background_response_returns_it(
    client: OpenAI, server: EmulatorServer
) -> None:
    server.model = ScriptedModel([Reply("quick")])
    response = client.responses.create(model="m", input="hi", background=True)
    wait_finished(client, response.id)
    assert client.responses.cancel(response.id).status == "completed"


def test_cancel_foreground_response_is_a_400(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([Reply("fg")])
    response = client.responses.create(model="m", input="hi")
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.cancel(response.id)
    assert "background=true" in error_message(caught.value)


def test_delete_response_then_404(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([Reply("bye")])
    response = client.responses.create(model="m", input="hi")
    assert client.responses.delete(response.id) is None
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.retrieve(response.id)
    assert error_message(caught.value) == f"Response with id '{response.id}' not found."


def test_store_false_response_is_not_retrievable(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([Reply("ephemeral")])
    response = client.responses.create(model="m", input="hi", store=False)
    assert response.output_text == "ephemeral"
    assert response.store is False
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="m", input="x", previous_response_id=response.id)
    assert caught.value.code == "previous_response_not_found"


@pytest.mark.parametrize("background", [False, True])
def test_failed_and_incomplete_outcomes(
    client: OpenAI, server: EmulatorServer, background: bool
) -> None:
    server.model = ScriptedModel(
        [
            Fail("rate_limit_exceeded", "slow down"),
            Incomplete("max_completion_tokens"),
            Incomplete("max_prompt_tokens"),
            Expire(),
        ]
    )
    finished = []
    for _ in range(4):
        response = client.responses.create(model="m", input="hi", background=background)
        finished.append(wait_finished(client, response.id) if background else response)
    failed, incomplete, prompt_incomplete, expired = finished

    assert failed.status == "failed"
    assert failed.error is not None
    assert (failed.error.code, failed.error.message) == ("rate_limit_exceeded", "slow down")
    assert failed.completed_at is None
    assert incomplete.status == "incomplete"
    assert incomplete.incomplete_details is not None
    assert incomplete.incomplete_details.reason == "max_output_tokens"
    assert prompt_incomplete.incomplete_details is not None
    assert prompt_incomplete.incomplete_details.reason == "max_output_tokens"
    assert expired.status == "failed"
    assert expired.error is not None
    assert expired.error.code == "server_error"
    assert "Expire" in expired.error.message


def test_failed_response_leaves_the_conversation_unchanged(
    client: OpenAI, server: EmulatorServer
) -> None:
    server.model = ScriptedModel([Fail(), Incomplete()])
    conversation = client.conversations.create()
    failed = client.responses.create(model="m", input="one", conversation=conversation.id)
    assert failed.status == "failed"
    assert client.conversations.items.list(conversation.id).data == []
    incomplete = client.responses.create(model="m", input="two", conversation=conversation.id)
    assert incomplete.status == "incomplete"
    assert [i.type for i in client.conversations.items.list(conversation.id)] == ["message"]


def test_model_that_raises_or_runs_out_fails_the_response(
    client: OpenAI, server: EmulatorServer
) -> None:
    server.model = ScriptedModel([])
    response = client.responses.create(model="m", input="hi")
    assert response.status == "failed"
    assert response.error is not None
    assert "no turn left" in response.error.message


def test_foreground_stall_fails_after_run_ttl() -> None:
    with (
        EmulatorServer(ScriptedModel([Stall()]), run_ttl=0.3) as server,
        make_client(server) as client,
    ):
        response = client.responses.create(model="m", input="hang")
    assert response.status == "failed"
    assert response.error is not None
    assert response.error.code == "server_error"
    assert "run_ttl" in response.error.message
