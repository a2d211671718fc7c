"""Fault injection: retried errors never duplicate resources; latency; dropped connections."""

from __future__ import annotations

import asyncio
import time

import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from emulator import DEMO_ASSISTANT_ID, EmulatorServer, Fault, Reply, ScriptedModel

from .conftest import error_message, make_client

RUNS_PATH = r"/threads/[^/]+/runs"


def test_500_is_retried_then_succeeds_without_a_duplicate_run(
    client: OpenAI, server: EmulatorServer
) -> None:
    server.model = ScriptedModel([Reply("once")])
    fault = server.faults.add(
        Fault(method="POST", path=RUNS_PATH, status=500, times=2, retry_after_ms=10)
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])

    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=DEMO_ASSISTANT_ID, poll_interval_ms=10
    )

    assert run.status == "completed"
    assert server.faults.fired(fault) == 2
    assert [r.id for r in client.beta.threads.runs.list(thread_id=thread.id).data] == [run.id]
    assert len(client.beta.threads.messages.list(thread_id=thread.id).data) == 2


def test_429_honours_retry_after_ms(client: OpenAI, server: EmulatorServer) -> None:
    fault = server.faults.add(
        Fault(method="GET", path="/assistants/.*", status=429, times=2, retry_after_ms=50)
    )
    started = time.monotonic()
    assistant = client.beta.assistants.retrieve(DEMO_ASSISTANT_ID)
    elapsed = time.monotonic() - started

    assert assistant.id == DEMO_ASSISTANT_ID
    assert server.faults.fired(fault) == 2
    # Without the header the SDK would back off for at least 0.375 s + 0.75 s.
    assert elapsed < 0.6


def test_retry_after_seconds_header_is_honoured(client: OpenAI, server: EmulatorServer) -> None:
    fault = server.faults.add(Fault(path="/assistants", status=503, times=2, retry_after=0.01))
    started = time.monotonic()
    client.beta.assistants.list()
    # Without the header the SDK would back off for at least 0.375 s + 0.75 s.
    assert time.monotonic() - started < 0.8
    assert server.faults.fired(fault) == 2


def test_should_retry_false_is_not_retried(client: OpenAI, server: EmulatorServer) -> None:
    fault = server.faults.add(
        Fault(path="/assistants", status=500, times=5, should_retry=False, body_message="nope")
    )
    with pytest.raises(openai.InternalServerError) as caught:
        client.beta.assistants.list()
    assert server.faults.fired(fault) == 1
    assert caught.value.status_code == 500
    assert error_message(caught.value) == "nope"
    assert caught.value.type == "server_error"
    assert caught.value.request_id is not None


def test_should_retry_true_retries_even_a_400(client: OpenAI, server: EmulatorServer) -> None:
    fault = server.faults.add(
        Fault(path="/assistants", status=400, should_retry=True, retry_after_ms=5)
    )
    assert client.beta.assistants.list().data
    assert server.faults.fired(fault) == 1


def test_faults_match_method_and_full_path(client: OpenAI, server: EmulatorServer) -> None:
    fault = server.faults.add(Fault(method="POST", path="/assistants", status=500, times=None))
    client.beta.assistants.list()
    client.beta.assistants.retrieve(DEMO_ASSISTANT_ID)
    assert server.faults.fired(fault) == 0
    with pytest.raises(openai.InternalServerError):
        client.with_options(max_retries=0).beta.assistants.create(model="m")
    assert server.faults.fired(fault) == 1
    server.faults.clear()
    assert server.faults.active == []
    client.with_options(max_retries=0).beta.assistants.create(model="m")


def test_a_fault_on_a_stream_request_comes_before_the_stream(
    client: OpenAI, server: EmulatorServer
) -> None:
    server.model = ScriptedModel([Reply("streamed once")])
    fault = server.faults.add(Fault(method="POST", path=RUNS_PATH, status=502, retry_after_ms=5))
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=DEMO_ASSISTANT_ID
    ) as stream:
        stream.until_done()
        assert stream.get_final_run().status == "completed"
    assert server.faults.fired(fault) == 1
    assert len(client.beta.threads.runs.list(thread_id=thread.id).data) == 1


async def test_latency_delays_one_request_without_blocking_others(server: EmulatorServer) -> None:
    server.faults.clear()
    fault = server.faults.add(Fault(method="GET", path="/assistants", status=None, latency=0.5))
    async with AsyncOpenAI(
        base_url=server.base_url, api_key="k", _strict_response_validation=True
    ) as client:
        await client.beta.assistants.retrieve(DEMO_ASSISTANT_ID)  # warm the connection pool
        finished: list[str] = []

        async def slow() -> None:
            await client.beta.assistants.list()
            finished.append("slow")

        async def fast() -> None:
            deadline = time.monotonic() + 5
            while server.faults.fired(fault) == 0:  # the slow request is being held
                assert time.monotonic() < deadline
                await asyncio.sleep(0.005)
            await client.beta.assistants.retrieve(DEMO_ASSISTANT_ID)
            finished.append("fast")

        started = time.monotonic()
        await asyncio.gather(slow(), fast())
        elapsed = time.monotonic() - started
    assert server.faults.fired(fault) == 1
    server.faults.clear()
    assert finished == ["fast", "slow"]
    assert elapsed >= 0.5


def test_drop_connection_raises_api_connection_error(
    client: OpenAI, server: EmulatorServer
) -> None:
    fault = server.faults.add(Fault(path="/assistants", drop_connection=True))
    started = time.monotonic()
    with pytest.raises(openai.APIConnectionError):
        client.with_options(max_retries=0).beta.assistants.list()
    assert time.monotonic() - started < 5
    assert server.faults.fired(fault) == 1
    assert client.beta.assistants.list().data  # the server is fine afterwards


def test_drop_connection_is_retried_by_default(client: OpenAI, server: EmulatorServer) -> None:
    fault = server.faults.add(Fault(path="/assistants", drop_connection=True, times=None))
    with pytest.raises(openai.APIConnectionError):
        client.with_options(max_retries=1).beta.assistants.list()
    assert server.faults.fired(fault) == 2


def test_global_latency_option_slows_every_answer() -> None:
    with EmulatorServer(latency=0.2) as slow, make_client(slow) as client:
        started = time.monotonic()
        client.beta.assistants.retrieve(DEMO_ASSISTANT_ID)
        assert time.monotonic() - started >= 0.2


def test_fault_validation() -> None:
    with pytest.raises(ValueError, match="times"):
        Fault(times=0)
    with pytest.raises(ValueError, match="latency"):
        Fault(latency=-1)
