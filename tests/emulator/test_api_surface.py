"""Issue 14: the requests the real API accepts, answered as the real API would (strict SDK)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest
from openai import OpenAI
from pydantic import BaseModel

from emulator import (
    DEMO_ASSISTANT_ID,
    CallTools,
    EmulatorServer,
    Reply,
    ScriptedModel,
    ToolSpec,
)

from .conftest import error_message, make_client
from .responses_helpers import STOCK_TOOLS, calls, outputs, tool


# -- Assistants: create thread and run, modify/delete message, modify run ------------------------
def test_create_and_run_poll_makes_a_thread_and_completes(client: OpenAI) -> None:
    run = client.beta.threads.create_and_run_poll(
        assistant_id=DEMO_ASSISTANT_ID,
        thread={"messages": [{"role": "user", "content": "hello"}], "metadata": {"k": "v"}},
        poll_interval_ms=10,
    )
    assert run.status == "completed"
    assert client.beta.threads.retrieve(run.thread_id).metadata == {"k": "v"}
    roles = [m.role for m in client.beta.threads.messages.list(run.thread_id, order="asc").data]
    assert roles == ["user", "assistant"]


def test_create_and_run_stream_streams_to_requires_action(client: OpenAI) -> None:
    with client.beta.threads.create_and_run_stream(
        assistant_id=DEMO_ASSISTANT_ID,
        thread={"messages": [{"role": "user", "content": "What is the price of AAPL?"}]},
    ) as stream:
        events = [event.event for event in stream]
        run = stream.current_run
    assert events[0] == "thread.created" or events[0] == "thread.run.created"
    assert events[-1] == "thread.run.requires_action"
    assert run is not None
    assert run.status == "requires_action"


def test_create_and_run_with_unknown_assistant_creates_no_thread(client: OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.create_and_run(assistant_id="asst_nope")


def test_modify_and_delete_message_and_modify_run(client: OpenAI) -> None:
    run = client.beta.threads.create_and_run_poll(
        assistant_id=DEMO_ASSISTANT_ID,
        thread={"messages": [{"role": "user", "content": "hello"}]},
        poll_interval_ms=10,
    )
    messages = client.beta.threads.messages
    first = messages.list(run.thread_id, order="asc").data[0]
    changed = messages.update(first.id, thread_id=run.thread_id, metadata={"seen": "yes"})
    assert changed.metadata == {"seen": "yes"}
    deleted = messages.delete(first.id, thread_id=run.thread_id)
    assert deleted.deleted
    assert deleted.object == "thread.message.deleted"
    assert [m.id for m in messages.list(run.thread_id).data if m.id == first.id] == []
    updated = client.beta.threads.runs.update(
        run.id, thread_id=run.thread_id, metadata={"tag": "x"}
    )
    assert updated.metadata == {"tag": "x"}
    assert client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id).metadata == {
        "tag": "x"
    }


# -- structured outputs ------------------------------------------------------------------------
class Quote(BaseModel):
    symbol: str
    price: float
    advice: str | None
    tags: list[str]


def test_responses_parse_returns_a_model_valid_against_the_schema(client: OpenAI) -> None:
    parsed = client.responses.parse(model="m", input="hello", text_format=Quote)
    assert isinstance(parsed.output_parsed, Quote)


def test_scripted_json_reply_is_kept_verbatim_under_a_schema(
    client: OpenAI, server: EmulatorServer
) -> None:
    exact = {"symbol": "AAPL", "price": 1.5, "advice": None, "tags": ["a"]}
    server.model = ScriptedModel([Reply(json.dumps(exact))])
    parsed = client.responses.parse(model="m", input="hello", text_format=Quote)
    assert parsed.output_parsed == Quote(**exact)


def test_assistants_response_format_json_schema_gives_json(client: OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}, "score": {"type": "integer", "minimum": 3}},
        "required": ["answer", "score"],
        "additionalProperties": False,
    }
    run = client.beta.threads.create_and_run_poll(
        assistant_id=DEMO_ASSISTANT_ID,
        thread={"messages": [{"role": "user", "content": "hello"}]},
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": schema, "strict": True},
        },
        poll_interval_ms=10,
    )
    message = client.beta.threads.messages.list(run.thread_id, run_id=run.id).data[0]
    block = message.content[0]
    assert block.type == "text"
    data = json.loads(block.text.value)
    assert set(data) == {"answer", "score"}
    assert data["score"] >= 3
    assert "offline demo model" in data["answer"]  # the model's text, in the first string


# -- tool_choice and parallel_tool_calls -------------------------------------------------------
def test_tool_choice_required_forces_a_call_on_hello(client: OpenAI) -> None:
    response = client.responses.create(
        model="m", input="hello", tools=STOCK_TOOLS, tool_choice="required"
    )
    assert [name for name, _ in calls(response)] == ["get_stock_price"]
    assert set(calls(response)[0][1]) == {"symbol"}


def test_tool_choice_named_forces_that_function(client: OpenAI) -> None:
    response = client.responses.create(
        model="m",
        input="Should I buy MSFT?",
        tools=STOCK_TOOLS,
        tool_choice={"type": "function", "name": "buy_or_sell"},
    )
    assert [name for name, _ in calls(response)] == ["buy_or_sell"]


def test_tool_choice_none_gets_text(client: OpenAI) -> None:
    response = client.responses.create(
        model="m", input="price of AAPL?", tools=STOCK_TOOLS, tool_choice="none"
    )
    assert calls(response) == []
    assert response.output_text


def test_allowed_tools_restrict_and_require(client: OpenAI) -> None:
    response = client.responses.create(
        model="m",
        input="hello",
        tools=[*STOCK_TOOLS, {"type": "web_search"}],
        tool_choice={
            "type": "allowed_tools",
            "mode": "required",
            "tools": [{"type": "function", "name": "buy_or_sell"}],
        },
    )
    assert [name for name, _ in calls(response)] == ["buy_or_sell"]


def test_parallel_tool_calls_false_gives_one_call_per_response(client: OpenAI) -> None:
    def price(name: str, arguments: dict[str, Any]) -> str:
        return json.dumps({"price": {"MSFT": 410.5, "TSLA": 180.25}[arguments["symbol"]]})

    first = client.responses.create(
        model="m", input="price of MSFT and TSLA", tools=STOCK_TOOLS, parallel_tool_calls=False
    )
    assert calls(first) == [("get_stock_price", {"symbol": "MSFT"})]
    second = client.responses.create(
        model="m",
        previous_response_id=first.id,
        input=outputs(first, price),
        tools=STOCK_TOOLS,
        parallel_tool_calls=False,
    )
    assert calls(second) == [("get_stock_price", {"symbol": "TSLA"})]
    third = client.responses.create(
        model="m", previous_response_id=second.id, input=outputs(second, price), tools=STOCK_TOOLS
    )
    assert "MSFT is trading at 410.50" in third.output_text
    assert "TSLA is trading at 180.25" in third.output_text


def test_assistants_tool_choice_and_parallel_tool_calls(client: OpenAI) -> None:
    runs = client.beta.threads.runs
    required = client.beta.threads.create_and_run_poll(
        assistant_id=DEMO_ASSISTANT_ID,
        thread={"messages": [{"role": "user", "content": "hello"}]},
        tool_choice="required",
        poll_interval_ms=10,
    )
    assert required.status == "requires_action"
    single = client.beta.threads.create_and_run_poll(
        assistant_id=DEMO_ASSISTANT_ID,
        thread={"messages": [{"role": "user", "content": "price of MSFT and TSLA"}]},
        parallel_tool_calls=False,
        poll_interval_ms=10,
    )
    assert single.required_action is not None
    assert len(single.required_action.submit_tool_outputs.tool_calls) == 1
    named = client.beta.threads.create_and_run_poll(
        assistant_id=DEMO_ASSISTANT_ID,
        thread={"messages": [{"role": "user", "content": "Should I buy MSFT?"}]},
        tool_choice={"type": "function", "function": {"name": "buy_or_sell"}},
        poll_interval_ms=10,
    )
    assert named.required_action is not None
    names = [c.function.name for c in named.required_action.submit_tool_outputs.tool_calls]
    assert names == ["buy_or_sell"]
    none = client.beta.threads.create_and_run_poll(
        assistant_id=DEMO_ASSISTANT_ID,
        thread={"messages": [{"role": "user", "content": "price of MSFT"}]},
        tool_choice="none",
        poll_interval_ms=10,
    )
    assert none.status == "completed"
    runs.cancel(required.id, thread_id=required.thread_id)


def test_scripted_calls_follow_parallel_false_on_runs(
    client: OpenAI, server: EmulatorServer
) -> None:
    server.model = ScriptedModel([CallTools([ToolSpec("a"), ToolSpec("b")])])
    run = client.beta.threads.create_and_run_poll(
        assistant_id=DEMO_ASSISTANT_ID, parallel_tool_calls=False, poll_interval_ms=10
    )
    assert run.required_action is not None
    assert [c.function.name for c in run.required_action.submit_tool_outputs.tool_calls] == ["a"]


# -- accepted requests, and the wording of refused ones ----------------------------------------
@pytest.mark.parametrize(
    "hosted",
    [
        {"type": "web_search"},
        {"type": "file_search", "vector_store_ids": ["vs_1"]},
        {"type": "code_interpreter", "container": {"type": "auto"}},
        {"type": "mcp", "server_label": "x", "server_url": "https://example.invalid"},
        {"type": "custom", "name": "grammar_tool"},
    ],
)
def test_hosted_tools_are_accepted_and_echoed(client: OpenAI, hosted: dict[str, Any]) -> None:
    response = client.responses.create(model="m", input="hello", tools=[hosted])  # type: ignore[list-item]
    assert response.status == "completed"
    assert response.tools[0].type == hosted["type"]


def test_reasoning_input_items_are_accepted(client: OpenAI) -> None:
    conversation = client.conversations.create()
    response = client.responses.create(
        model="m",
        conversation=conversation.id,
        input=[
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"role": "user", "content": "hello"},
        ],
    )
    assert response.status == "completed"
    kinds = [i.type for i in client.conversations.items.list(conversation.id, order="asc")]
    assert kinds == ["reasoning", "message", "message"]


def test_unknown_parameter_wording(client: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="m", input="x", extra_body={"foo": 1})
    assert error_message(caught.value) == "Unknown parameter: 'foo'."
    assert caught.value.code == "unknown_parameter"
    assert caught.value.param == "foo"


# -- schema gaps -------------------------------------------------------------------------------
def test_empty_item_list_has_string_ids(client: OpenAI) -> None:
    conversation = client.conversations.create()
    page = client.conversations.items.list(conversation.id)
    assert page.data == []
    assert page.first_id == ""
    assert page.last_id == ""


def test_strict_and_service_tier_are_echoed_as_sent(client: OpenAI) -> None:
    unset = tool("lookup")
    del unset["strict"]  # type: ignore[misc]
    response = client.responses.create(
        model="m", input="hello", tools=[unset, tool("other", strict=False)], service_tier="flex"
    )
    assert [t.strict for t in response.tools if t.type == "function"] == [None, False]
    assert response.service_tier == "flex"
    assert client.responses.create(model="m", input="hi").service_tier == "default"


def test_beta_v1_is_told_that_v1_is_retired(server: EmulatorServer) -> None:
    answer = httpx.get(f"{server.base_url}/assistants", headers={"OpenAI-Beta": "assistants=v1"})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert "v1" in error["message"]
    assert "retired" in error["message"]
    assert "assistants=v2" in error["message"]
    assert error["code"] == "invalid_beta"


# -- input hardening ---------------------------------------------------------------------------
def _post(server: EmulatorServer, path: str, content: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/json", "OpenAI-Beta": "assistants=v2"}
    return httpx.post(f"{server.base_url}{path}", content=content, headers=headers, timeout=60)


def test_deep_nesting_is_a_400_and_the_conversation_goes_on(
    client: OpenAI, server: EmulatorServer
) -> None:
    conversation = client.conversations.create()
    deep = '{"model": "m", "metadata": ' + "[" * 1000 + "]" * 1000 + "}"
    answer = _post(server, "/responses", deep.encode())
    assert answer.status_code == 400
    assert set(answer.json()["error"]) == {"message", "type", "param", "code"}
    deeper = '{"a": ' * 100_000 + "1" + "}" * 100_000
    assert _post(server, "/threads", deeper.encode()).status_code == 400
    response = client.responses.create(model="m", input="hello", conversation=conversation.id)
    assert response.status == "completed"


def test_lone_surrogate_is_a_400_and_nothing_is_stored(
    client: OpenAI, server: EmulatorServer
) -> None:
    conversation = client.conversations.create()
    thread = client.beta.threads.create()
    body = b'{"model": "m", "input": "bad \\ud800 text", "conversation": "%s"}' % (
        conversation.id.encode()
    )
    answer = _post(server, "/responses", body)
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"
    message = b'{"role": "user", "content": "\\udfff"}'
    assert _post(server, f"/threads/{thread.id}/messages", message).status_code == 400
    assert list(client.conversations.items.list(conversation.id)) == []
    assert client.beta.threads.messages.list(thread.id).data == []
    client.responses.create(model="m", input="hello", conversation=conversation.id)
    assert len(list(client.conversations.items.list(conversation.id))) == 2


def test_body_over_the_limit_is_a_413_and_the_server_keeps_serving() -> None:
    with EmulatorServer(queue_delay=0.01, max_body_bytes=64 * 1024) as small:
        big = json.dumps({"model": "m", "input": "x" * 100_000}).encode()
        answer = _post(small, "/responses", big)
        assert answer.status_code == 413
        assert answer.json()["error"]["code"] == "request_too_large"
        with make_client(small) as sdk:
            conversation = sdk.conversations.create()
            with pytest.raises(openai.APIStatusError) as caught:
                sdk.responses.create(model="m", input="y" * 100_000, conversation=conversation.id)
            assert caught.value.status_code == 413
            assert list(sdk.conversations.items.list(conversation.id)) == []
            sdk.responses.create(model="m", input="hello", conversation=conversation.id)
            assert len(list(sdk.conversations.items.list(conversation.id))) == 2


def test_assistants_message_text_is_bounded(client: OpenAI) -> None:
    thread = client.beta.threads.create()
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.messages.create(thread.id, role="user", content="x" * 256_001)
    assert caught.value.param == "content"
    assert client.beta.threads.messages.list(thread.id).data == []
