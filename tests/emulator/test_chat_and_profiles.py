"""The emulator's Chat Completions and its server profiles, through the strict SDK and raw HTTP:
what each profile serves and refuses, the API's 400s for tool messages out of order, plain and
streamed completions with tool calls, and a failing model."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import openai
import pytest
from openai import OpenAI

from emulator import CallTools, EmulatorServer, Fail, Incomplete, Reply, ScriptedModel, ToolSpec
from tests.emulator.conftest import make_client

TOOLS = [
    {
        "type": "function",
        "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}},
    }
]

CALLED_F = {"name": "f", "arguments": "{}"}


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, EmulatorServer]]:
    started = {p: EmulatorServer(profile=p, queue_delay=0.0).start() for p in ("stateless", "chat")}
    try:
        yield started
    finally:
        for server in started.values():
            server.stop()


@pytest.mark.parametrize(
    ("profile", "method", "path", "served"),
    [
        ("stateless", "POST", "/responses", True),
        ("stateless", "GET", "/responses/resp_x", False),
        ("stateless", "POST", "/conversations", False),
        ("stateless", "POST", "/assistants", False),
        ("stateless", "POST", "/chat/completions", True),
        ("chat", "POST", "/responses", False),
        ("chat", "POST", "/chat/completions", True),
    ],
)
def test_a_profile_serves_its_routes_and_answers_404_for_the_rest(
    servers: dict[str, EmulatorServer], profile: str, method: str, path: str, served: bool
) -> None:
    answer = httpx.request(method, servers[profile].base_url + path, json={})
    assert (answer.status_code != 404) is served, answer.text


def test_a_stateless_server_refuses_background_and_chains(
    servers: dict[str, EmulatorServer],
) -> None:
    client = make_client(servers["stateless"])
    with pytest.raises(openai.BadRequestError, match="Background mode is not supported"):
        client.responses.create(model="m", input="hi", background=True)
    with pytest.raises(openai.BadRequestError, match="previous_response_id is not supported"):
        client.responses.create(model="m", input="hi", previous_response_id="resp_1")
    with pytest.raises(openai.BadRequestError, match="No tool output found for function call c1"):
        client.responses.create(
            model="m",
            input=[
                {"role": "user", "content": "go"},
                {"type": "function_call", "call_id": "c1", "name": "get_time", "arguments": "{}"},
            ],
        )


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        (
            [
                {"role": "user", "content": "go"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "user", "content": "and?"},
            ],
            "did not have response messages: c1",
        ),
        (
            [
                {"role": "user", "content": "go"},
                {"role": "tool", "tool_call_id": "c9", "content": "x"},
            ],
            "must be a response to a preceeding message with 'tool_calls'",
        ),
    ],
)
def test_tool_messages_out_of_order_are_the_apis_400s(
    servers: dict[str, EmulatorServer], messages: list[dict[str, object]], error: str
) -> None:
    client = make_client(servers["chat"])
    with pytest.raises(openai.BadRequestError, match=error):
        client.chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]


def test_plain_completions_call_tools_reply_and_end_as_the_model_says(
    servers: dict[str, EmulatorServer],
) -> None:
    server = servers["chat"]
    server.model = model = ScriptedModel(
        [CallTools([ToolSpec("get_time", {})]), Reply("noon"), Incomplete(), Fail()]
    )
    client: OpenAI = make_client(server, max_retries=0)
    first = client.chat.completions.create(
        model="m",
        messages=[{"role": "user", "content": "time?"}],
        tools=TOOLS,  # type: ignore[list-item]
    )
    assert first.choices[0].finish_reason == "tool_calls"
    (call,) = first.choices[0].message.tool_calls or []
    assert call.function.name == "get_time"  # type: ignore[union-attr]
    history = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "time?"},
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "12:00"},
    ]
    second = client.chat.completions.create(model="m", messages=history, tools=TOOLS)  # type: ignore[arg-type]
    assert (second.choices[0].message.content, second.choices[0].finish_reason) == ("noon", "stop")
    seen = model.contexts[1]
    assert seen.instructions == "be brief"
    assert [(c.call_id, c.output) for c in seen.tool_calls] == [(call.id, "12:00")]
    cut = client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert cut.choices[0].finish_reason == "length"
    with pytest.raises(openai.InternalServerError) as failed:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert failed.value.response.headers["x-should-retry"] == "false"


def test_a_streamed_completion_opens_each_call_then_streams_its_arguments(
    servers: dict[str, EmulatorServer],
) -> None:
    server = servers["chat"]
    server.model = ScriptedModel([CallTools([ToolSpec("get_time", {"zone": "UTC"})])])
    client = make_client(server)
    chunks = list(
        client.chat.completions.create(
            model="m",
            messages=[{"role": "user", "content": "time?"}],
            tools=TOOLS,  # type: ignore[list-item]
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert chunks[0].choices[0].delta.role == "assistant"
    deltas = [d for c in chunks if c.choices for d in c.choices[0].delta.tool_calls or ()]
    opening = deltas[0]
    assert opening.id
    assert opening.function is not None
    assert opening.function.name == "get_time"
    arguments = "".join((d.function.arguments or "") for d in deltas if d.function)
    assert json.loads(arguments) == {"zone": "UTC"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert chunks[-1].usage is not None


def test_a_model_failing_mid_stream_is_an_error_event() -> None:
    with EmulatorServer(ScriptedModel([Fail(message="boom")]), profile="chat") as server:
        stream = make_client(server).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], stream=True
        )
        with pytest.raises(openai.APIError, match="boom"):
            list(stream)


def test_an_unknown_profile_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown server profile 'vllm'.*openai, stateless"):
        EmulatorServer(profile="vllm")


def test_the_command_line_takes_a_profile(capsys: pytest.CaptureFixture[str]) -> None:
    from emulator.__main__ import parse_args

    assert parse_args(["--profile", "chained"]).profile == "chained"
    assert parse_args([]).profile == "openai"
    with pytest.raises(SystemExit):
        parse_args(["--profile", "vllm"])
    assert "invalid choice: 'vllm'" in capsys.readouterr().err
