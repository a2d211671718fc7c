"""Issue 13: the emulator's usage is counted from the text a model call reads and writes, the
same way on both protocols, streamed or not, with a prompt cache like OpenAI's (Responses)."""

from __future__ import annotations

import json

from openai import OpenAI

from emulator import CallTools, EmulatorServer, Reply, ScriptedModel, ToolSpec
from emulator.common.usage import (
    CACHE_BLOCK,
    ITEM_OVERHEAD,
    PromptCache,
    call_tokens,
    tool_definitions,
)
from emulator.common.wire import estimate_tokens

from .responses_helpers import outputs, tool

INSTRUCTIONS = "Answer weather questions briefly."
ARGUMENTS = {"city": "Paris"}
REPLY = "Sunny, 20C."


def _script(server: EmulatorServer) -> None:
    server.model = ScriptedModel([CallTools([ToolSpec("get_weather", ARGUMENTS)]), Reply(REPLY)])


def _expected() -> tuple[int, int]:
    """(input, output) tokens of the two model calls, counted by hand from their text."""
    tools = estimate_tokens(json.dumps(tool_definitions([tool("get_weather")]), sort_keys=True,
                                       separators=(",", ":")))  # fmt: skip
    fixed = estimate_tokens(INSTRUCTIONS) + tools
    question = ITEM_OVERHEAD + estimate_tokens("weather?")
    arguments = json.dumps(ARGUMENTS)
    history = question + ITEM_OVERHEAD + estimate_tokens(arguments) + ITEM_OVERHEAD + 1  # "20C"
    inputs = (fixed + question) + (fixed + history)
    return inputs, call_tokens("get_weather", arguments) + estimate_tokens(REPLY)


def test_both_protocols_count_the_same_exchange_alike(
    client: OpenAI, server: EmulatorServer
) -> None:
    _script(server)
    conversation = client.conversations.create()
    first = client.responses.create(
        model="m", instructions=INSTRUCTIONS, input="weather?", tools=[tool("get_weather")],
        conversation=conversation.id,
    )  # fmt: skip
    with client.responses.stream(
        model="m", instructions=INSTRUCTIONS, input=outputs(first, "20C"),
        tools=[tool("get_weather")], conversation=conversation.id,
    ) as stream:  # fmt: skip
        second = stream.get_final_response()
    assert first.usage is not None
    assert second.usage is not None
    responses = (
        first.usage.input_tokens + second.usage.input_tokens,
        first.usage.output_tokens + second.usage.output_tokens,
    )

    _script(server)
    nested = {"type": "function", "function": {k: v for k, v in tool("get_weather").items()
                                               if k in ("name", "parameters")}}  # fmt: skip
    assistant = client.beta.assistants.create(
        model="m",
        instructions=INSTRUCTIONS,
        tools=[nested],  # type: ignore[list-item]
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "weather?"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=10
    )
    assert run.required_action is not None
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread.id, poll_interval_ms=10,
        tool_outputs=[{"tool_call_id": call.id, "output": "20C"}],
    )  # fmt: skip
    assert run.usage is not None
    assistants = (run.usage.prompt_tokens, run.usage.completion_tokens)

    assert responses == assistants == _expected()
    assert run.usage.total_tokens == sum(assistants)


def test_a_long_prompt_reads_the_previous_prompt_from_the_cache(
    client: OpenAI, server: EmulatorServer
) -> None:
    _script(server)
    long_instructions = "Be precise. " * 400  # 1,200 tokens: over the cache's minimum
    conversation = client.conversations.create()
    asked = {"model": "m", "instructions": long_instructions, "tools": [tool("get_weather")],
             "conversation": conversation.id}  # fmt: skip
    first = client.responses.create(input="weather?", **asked)  # type: ignore[call-overload]
    second = client.responses.create(input=outputs(first, "20C"), **asked)  # type: ignore[call-overload]
    assert first.usage is not None
    assert second.usage is not None
    assert first.usage.input_tokens_details.cached_tokens == 0  # nothing before it
    cached = second.usage.input_tokens_details.cached_tokens
    assert cached == first.usage.input_tokens // CACHE_BLOCK * CACHE_BLOCK
    assert 0 < cached <= second.usage.input_tokens


def test_the_prompt_cache_needs_a_long_shared_prefix_in_one_conversation() -> None:
    cache = PromptCache()
    tools = [tool("get_weather")]
    assert cache.read("conv_a", "x", tools, 2000) == 0  # the first call: nothing cached
    assert cache.read("conv_a", "x", tools, 2300) == 1920  # 2,000 read again, whole blocks
    assert cache.read("conv_a", "y", tools, 2600) == 0  # other instructions: another prefix
    assert cache.read("conv_b", "y", tools, 2600) == 0  # another conversation
    assert cache.read("conv_b", "y", tools, 900) == 0  # under 1,024 tokens: never cached
    assert cache.read(None, "y", tools, 5000) == 0  # outside a conversation
