"""Issue 9's faults: lost replies after the server acted, cut streams, stalls, resets, the Nth
request, a response stuck ``queued``, ``conversation_locked``; stream resumption; holdings."""

from __future__ import annotations

import math
import threading
import time

import openai
import pytest
from openai import OpenAI

from emulator import (
    DEMO_ASSISTANT_ID,
    EmulatorServer,
    Fault,
    Holdings,
    Reply,
    ScriptedModel,
    Stall,
)

from .conftest import error_message, make_client, wait_for
from .responses_helpers import wait_response_status

MESSAGES = r"/threads/[^/]+/messages"


def test_drop_reply_happens_after_the_server_acted(client: OpenAI, server: EmulatorServer) -> None:
    thread = client.beta.threads.create()
    fault = server.faults.add(Fault(method="POST", path=MESSAGES, status=None, drop_reply=True))
    with pytest.raises(openai.APIConnectionError):
        client.with_options(max_retries=0).beta.threads.messages.create(
            thread.id, role="user", content="hi"
        )
    assert server.faults.fired(fault) == 1
    assert server.holdings(thread.id) == Holdings(user_messages=1)


def test_sdk_retry_after_a_lost_reply_duplicates_the_message(
    client: OpenAI, server: EmulatorServer
) -> None:
    """Why the toolkit must not re-send non-idempotent POSTs blind (issue 9)."""
    thread = client.beta.threads.create()
    server.faults.add(Fault(method="POST", path=MESSAGES, status=None, drop_reply=True))
    client.beta.threads.messages.create(thread.id, role="user", content="hi")
    assert server.holdings(thread.id).user_messages == 2


@pytest.mark.parametrize("byte", [0, 40, 700])
def test_stream_cut_at_byte_n_leaves_the_response_running_on(
    client: OpenAI, server: EmulatorServer, byte: int
) -> None:
    server.model = ScriptedModel([Reply("a reply long enough to be cut " * 4)])
    conversation = client.conversations.create()
    fault = server.faults.add(
        Fault(method="POST", path="/responses", status=None, cut_at_byte=byte)
    )
    received = b""
    with pytest.raises(openai.APIConnectionError):  # noqa: PT012 - the cut comes mid-iteration
        stream = client.responses.create(
            model="m", input="hi", conversation=conversation.id, stream=True
        )
        for event in stream:
            received += event.model_dump_json().encode()
    assert server.faults.fired(fault) == 1

    def settled() -> Holdings | None:
        held = server.holdings(conversation.id)
        return held if held.active == 0 and held.assistant_messages == 1 else None

    assert wait_for(settled, timeout=30).user_messages == 1


def test_stall_holds_the_request_then_closes_without_acting(
    client: OpenAI, server: EmulatorServer
) -> None:
    fault = server.faults.add(Fault(method="POST", path="/conversations", status=None, stall=0.3))
    started = time.monotonic()
    with pytest.raises(openai.APIConnectionError):
        client.with_options(max_retries=0).conversations.create()
    assert time.monotonic() - started >= 0.3
    assert server.faults.fired(fault) == 1


def test_an_endless_stall_ends_when_the_server_stops() -> None:
    with EmulatorServer(queue_delay=0.01) as own:
        own.faults.add(Fault(method="GET", path="/assistants", status=None, stall=math.inf))
        errors: list[BaseException] = []

        def call() -> None:
            with make_client(own, max_retries=0) as sdk:
                try:
                    sdk.beta.assistants.list()
                except openai.APIError as exc:
                    errors.append(exc)

        caller = threading.Thread(target=call)
        caller.start()
        wait_for(lambda: own.faults.active == [] or own.faults.fired(own.faults.active[0]))
        own.stop()
        caller.join(30)
    assert not caller.is_alive()
    assert len(errors) == 1


def test_reset_aborts_before_anything_happens(client: OpenAI, server: EmulatorServer) -> None:
    thread = client.beta.threads.create()
    fault = server.faults.add(Fault(method="POST", path=MESSAGES, status=None, reset=True))
    with pytest.raises(openai.APIConnectionError):
        client.with_options(max_retries=0).beta.threads.messages.create(
            thread.id, role="user", content="hi"
        )
    assert server.faults.fired(fault) == 1
    assert server.holdings(thread.id) == Holdings()
    client.beta.threads.messages.create(thread.id, role="user", content="again")
    assert server.holdings(thread.id).user_messages == 1


def test_nth_matching_request_is_the_one_hit(client: OpenAI, server: EmulatorServer) -> None:
    fault = server.faults.add(Fault(method="POST", path="/conversations", status=500, nth=3))
    quiet = client.with_options(max_retries=0)
    quiet.conversations.create()
    quiet.conversations.create()
    with pytest.raises(openai.InternalServerError):
        quiet.conversations.create()
    quiet.conversations.create()
    assert server.faults.fired(fault) == 1


def test_background_response_stuck_queued_until_cancelled(
    client: OpenAI, server: EmulatorServer
) -> None:
    server.model = ScriptedModel([Reply("later"), Reply("other")])
    fault = server.faults.add(
        Fault(method="POST", path="/responses", status=None, stuck_queued=True)
    )
    stuck = client.responses.create(model="m", input="hi", background=True)
    other = client.responses.create(model="m", input="hi", background=True)
    wait_response_status(client, other.id, "completed", timeout=30)
    assert client.responses.retrieve(stuck.id).status == "queued"
    assert server.faults.fired(fault) == 1
    assert client.responses.cancel(stuck.id).status == "cancelled"


def test_conversation_locked_fault_and_the_real_lock(
    client: OpenAI, server: EmulatorServer
) -> None:
    conversation = client.conversations.create()
    fault = server.faults.add(
        Fault(method="POST", path="/responses", status=None, conversation_locked=True)
    )
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model="m", input="hi", conversation=conversation.id)
    assert caught.value.code == "conversation_locked"
    assert caught.value.param == "conversation"
    assert server.faults.fired(fault) == 1
    assert server.holdings(conversation.id) == Holdings()

    server.model = ScriptedModel([Stall()])
    running = client.responses.create(
        model="m", input="hi", conversation=conversation.id, background=True
    )
    with pytest.raises(openai.BadRequestError) as again:
        client.responses.create(model="m", input="hi", conversation=conversation.id)
    assert again.value.code == "conversation_locked"
    assert "Another process is currently operating" in error_message(again.value)
    assert server.holdings(conversation.id).active == 1
    client.responses.cancel(running.id)
    assert server.holdings(conversation.id).active == 0


def test_background_stream_resumes_after_sequence_number(
    client: OpenAI, server: EmulatorServer
) -> None:
    server.model = ScriptedModel([Reply("resumable text that streams in pieces")])
    with client.responses.create(model="m", input="hi", background=True, stream=True) as first:
        seen = [event for _, event in zip(range(3), first, strict=False)]
    response_id = seen[0].response.id  # type: ignore[union-attr]
    wait_response_status(client, response_id, "completed", timeout=30)
    last = seen[-1].sequence_number
    resumed = list(client.responses.retrieve(response_id, stream=True, starting_after=last))
    numbers = [event.sequence_number for event in resumed]
    assert numbers[0] == last + 1
    assert numbers == list(range(last + 1, last + 1 + len(numbers)))
    assert resumed[-1].type == "response.completed"
    whole = list(client.responses.retrieve(response_id, stream=True))
    assert [e.sequence_number for e in whole[: last + 1]] == [e.sequence_number for e in seen]


def test_holdings_count_a_tool_exchange_on_both_protocols(
    client: OpenAI, server: EmulatorServer
) -> None:
    run = client.beta.threads.create_and_run_poll(
        assistant_id=DEMO_ASSISTANT_ID,
        thread={"messages": [{"role": "user", "content": "price of AAPL"}]},
        poll_interval_ms=10,
    )
    assert server.holdings(run.thread_id) == Holdings(
        user_messages=1, function_calls=1, tool_outputs=0, active=1
    )
    assert run.required_action is not None
    call = run.required_action.submit_tool_outputs.tool_calls[0]
    client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=run.thread_id,
        tool_outputs=[{"tool_call_id": call.id, "output": "12.5"}],
        poll_interval_ms=10,
    )
    assert server.holdings(run.thread_id) == Holdings(
        user_messages=1, assistant_messages=1, function_calls=1, tool_outputs=1, active=0
    )
    with pytest.raises(KeyError):
        server.holdings("thread_nope")
