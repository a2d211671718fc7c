"""The error answers of the Responses API (wire reference B.5), 404s, and injected faults."""

from __future__ import annotations

import openai
import pytest
from openai import OpenAI

from emulator import CallTools, EmulatorServer, Fault, Reply, ScriptedModel, Stall, ToolSpec

from .conftest import error_message
from .responses_helpers import outputs, tool, wait_finished, wait_response_status

TOOLS = [tool("a"), tool("b")]


def test_conversation_and_previous_response_id_are_mutually_exclusive(
    client: OpenAI, server: EmulatorServer
) -> None:
    server.model = ScriptedModel([Reply("x")])
    earlier = client.responses.create(model="m", input="hi")
    conversation = client.conversations.create()
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(
            model="m", input="x", conversation=conversation.id, previous_response_id=earlier.id
        )
    assert caught.value.code == "mutually_exclusive_parameters"
    assert error_message(caught.value) == (
        "Mutually exclusive parameters: Ensure you are only providing one of: "
        "'previous_response_id' or 'conversation'."
    )


def test_unknown_previous_response_id(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="m", input="x", previous_response_id="resp_nope")
    assert caught.value.code == "previous_response_not_found"
    assert caught.value.param == "previous_response_id"
    assert error_message(caught.value) == "Previous response with id 'resp_nope' not found."


def test_output_for_unknown_call_id(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([CallTools([ToolSpec("a")])])
    conversation = client.conversations.create()
    client.responses.create(model="m", input="go", tools=TOOLS, conversation=conversation.id)
    bad = [{"type": "function_call_output", "call_id": "call_x", "output": "1"}]
    for state in ({"conversation": conversation.id}, {}):
        with pytest.raises(openai.BadRequestError) as caught:
            client.responses.create(model="m", input=bad, tools=TOOLS, **state)  # type: ignore[arg-type]
        assert caught.value.param == "input"
        assert error_message(caught.value) == (
            "No tool call found for function call output with call_id call_x."
        )
    # Nothing was added by the refused requests.
    assert len(client.conversations.items.list(conversation.id).data) == 2


def test_chaining_without_every_output(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([CallTools([ToolSpec("a"), ToolSpec("b")]), Reply("ok")])
    first = client.responses.create(model="m", input="go", tools=TOOLS)
    partial = outputs(first)[:1]
    missing = [item.call_id for item in first.output if item.type == "function_call"][1]
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(
            model="m", input=partial, tools=TOOLS, previous_response_id=first.id
        )
    assert error_message(caught.value) == f"No tool output found for function call {missing}."
    assert caught.value.param == "input"
    # With every output the chain goes on.
    done = client.responses.create(
        model="m", input=outputs(first), tools=TOOLS, previous_response_id=first.id
    )
    assert done.output_text == "ok"


def test_second_response_on_a_busy_conversation_is_locked(
    client: OpenAI, server: EmulatorServer
) -> None:
    server.model = ScriptedModel([Stall()])
    conversation = client.conversations.create()
    busy = client.responses.create(
        model="m", input="one", background=True, conversation=conversation.id
    )
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="m", input="two", conversation=conversation.id)
    assert caught.value.code == "conversation_locked"
    assert caught.value.param == "conversation"
    assert error_message(caught.value) == (
        "Another process is currently operating on this conversation. "
        "Please retry in a few seconds."
    )
    client.responses.cancel(busy.id)


def test_chaining_on_a_running_response_is_refused(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([Stall()])
    running = client.responses.create(model="m", input="one", background=True)
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="m", input="two", previous_response_id=running.id)
    assert caught.value.param == "previous_response_id"
    client.responses.cancel(running.id)


def test_not_found_answers(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.retrieve("resp_nope")
    assert error_message(caught.value) == "Response with id 'resp_nope' not found."
    with pytest.raises(openai.NotFoundError):
        client.responses.cancel("resp_nope")
    with pytest.raises(openai.NotFoundError):
        client.responses.delete("resp_nope")
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="m", input="x", conversation="conv_nope")
    assert error_message(caught.value) == "Conversation with id 'conv_nope' not found."


def test_bad_bodies_are_400s_naming_the_field(client: OpenAI) -> None:
    cases = [
        ({"input": "x"}, "model"),
        ({"model": "m", "tools": [{"type": "crystal_ball"}]}, "tools[0].type"),
        ({"model": "m", "input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
        ({"model": "m", "colour": "blue"}, "colour"),
    ]
    for body, param in cases:
        with pytest.raises(openai.BadRequestError) as caught:
            client.post("/responses", body=body, cast_to=object)
        assert caught.value.param == param, body
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="m", input="x", background=True, store=False)
    assert caught.value.param == "store"


def test_unknown_item_reference_is_a_400(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="m", input=[{"type": "item_reference", "id": "msg_nope"}])
    assert error_message(caught.value) == "Item with id 'msg_nope' not found."


def test_item_reference_brings_in_an_earlier_item(client: OpenAI, server: EmulatorServer) -> None:
    model = ScriptedModel([Reply("first"), Reply("second")])
    server.model = model
    earlier = client.responses.create(model="m", input="remember the word apple")
    message_id = client.responses.input_items.list(earlier.id).data[0].id
    client.responses.create(model="m", input=[{"type": "item_reference", "id": message_id}])
    assert model.contexts[1].last_user_text == "remember the word apple"


def test_faults_on_responses_are_retried_without_duplicates(
    client: OpenAI, server: EmulatorServer
) -> None:
    server.model = ScriptedModel([Reply("once")])
    conversation = client.conversations.create()
    fault = server.faults.add(
        Fault(method="POST", path="/responses", status=500, times=2, retry_after_ms=5)
    )
    response = client.responses.create(model="m", input="hi", conversation=conversation.id)
    assert response.output_text == "once"
    assert server.faults.fired(fault) == 2
    assert len(client.conversations.items.list(conversation.id).data) == 2


def test_faults_on_retrieve_and_a_non_retried_503(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([Reply("bg")])
    response = client.responses.create(model="m", input="hi", background=True)
    server.faults.add(Fault(method="GET", path="/responses/.*", status=429, retry_after_ms=5))
    assert wait_finished(client, response.id).output_text == "bg"
    server.faults.add(Fault(path="/responses", status=503, should_retry=False))
    with pytest.raises(openai.InternalServerError):
        client.responses.create(model="m", input="x")


def test_stall_in_background_stays_in_progress_until_cancelled(
    client: OpenAI, server: EmulatorServer
) -> None:
    server.model = ScriptedModel([Stall()])
    response = client.responses.create(model="m", input="hang", background=True)
    wait_response_status(client, response.id, "in_progress")
    assert client.responses.retrieve(response.id).status == "in_progress"
    assert client.responses.cancel(response.id).status == "cancelled"
