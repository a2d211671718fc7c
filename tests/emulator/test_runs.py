"""Runs over time with scripted models: polling, tool calls, locks, cancel, expiry, outcomes."""

from __future__ import annotations

import json

import openai
import pytest
from openai import AsyncOpenAI, OpenAI

from emulator import (
    DEMO_ASSISTANT_ID,
    CallTools,
    EmulatorServer,
    Expire,
    Fail,
    Incomplete,
    Reply,
    ScriptedModel,
    Stall,
    ToolSpec,
    TurnContext,
)

from .conftest import error_message, make_client
from .helpers import answer_all, poll, reply_text, run_to_pause, start_run, wait_status


def test_tool_call_round_trip_with_create_and_poll(client: OpenAI, server: EmulatorServer) -> None:
    model = ScriptedModel(
        [CallTools([ToolSpec("get_stock_price", {"symbol": "AAPL"})]), Reply("done")]
    )
    server.model = model

    paused = run_to_pause(client, "price of AAPL?")
    assert paused.status == "requires_action"
    assert paused.required_action is not None
    (call,) = paused.required_action.submit_tool_outputs.tool_calls
    assert call.function.name == "get_stock_price"
    assert json.loads(call.function.arguments) == {"symbol": "AAPL"}
    assert call.id.startswith("call_")
    (step,) = client.beta.threads.runs.steps.list(run_id=paused.id, thread_id=paused.thread_id).data
    assert (step.type, step.status) == ("tool_calls", "in_progress")

    finished = answer_all(client, paused, output='{"price": 1}')
    assert finished.status == "completed"
    assert finished.required_action is None
    assert finished.completed_at is not None
    assert finished.started_at is not None
    assert finished.usage is not None
    assert (
        finished.usage.total_tokens
        == finished.usage.prompt_tokens + finished.usage.completion_tokens
    )
    assert reply_text(client, finished) == "done"

    steps = client.beta.threads.runs.steps.list(
        run_id=finished.id, thread_id=finished.thread_id, order="asc"
    ).data
    assert [(s.type, s.status) for s in steps] == [
        ("tool_calls", "completed"),
        ("message_creation", "completed"),
    ]
    assert steps[0].step_details.type == "tool_calls"
    tool_call = steps[0].step_details.tool_calls[0]
    assert tool_call.type == "function"
    assert tool_call.function.output == '{"price": 1}'
    assert steps[1].step_details.type == "message_creation"
    message_id = steps[1].step_details.message_creation.message_id
    message = client.beta.threads.messages.retrieve(message_id, thread_id=finished.thread_id)
    assert (message.assistant_id, message.run_id, message.status) == (
        DEMO_ASSISTANT_ID,
        finished.id,
        "completed",
    )
    same_step = client.beta.threads.runs.steps.retrieve(
        steps[1].id, thread_id=finished.thread_id, run_id=finished.id
    )
    assert same_step.id == steps[1].id

    first, second = model.contexts
    assert first.tool_turns == ()
    assert first.messages[-1].text == "price of AAPL?"
    assert first.tool_names == ("get_stock_price", "buy_or_sell")
    assert second.tool_calls[0].output == '{"price": 1}'


def test_parallel_calls_and_verbatim_string_arguments(
    client: OpenAI, server: EmulatorServer
) -> None:
    server.model = ScriptedModel(
        [CallTools([ToolSpec("a", {"x": 1}), ToolSpec("b", "{not json")]), Reply("ok")]
    )
    paused = run_to_pause(client)
    assert paused.required_action is not None
    calls = paused.required_action.submit_tool_outputs.tool_calls
    assert [(c.function.name, c.function.arguments) for c in calls] == [
        ("a", '{"x": 1}'),
        ("b", "{not json"),
    ]
    assert len({c.id for c in calls}) == 2
    assert answer_all(client, paused).status == "completed"


def test_thread_is_locked_while_a_run_is_active(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([Stall()])
    run = start_run(client)

    with pytest.raises(openai.BadRequestError) as message:
        client.beta.threads.messages.create(thread_id=run.thread_id, role="user", content="more")
    assert error_message(message.value) == (
        f"Can't add messages to {run.thread_id} while a run {run.id} is active."
    )
    with pytest.raises(openai.BadRequestError) as second:
        client.beta.threads.runs.create(thread_id=run.thread_id, assistant_id=DEMO_ASSISTANT_ID)
    assert error_message(second.value) == (
        f"Thread {run.thread_id} already has an active run {run.id}."
    )

    client.beta.threads.runs.cancel(run.id, thread_id=run.thread_id)
    assert poll(client, run).status == "cancelled"
    client.beta.threads.messages.create(thread_id=run.thread_id, role="user", content="now ok")


def test_submit_errors_are_400s_that_change_nothing(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([CallTools([ToolSpec("a"), ToolSpec("b")]), Reply("fine")])
    paused = run_to_pause(client)
    assert paused.required_action is not None
    call_a, call_b = paused.required_action.submit_tool_outputs.tool_calls
    runs = client.beta.threads.runs

    with pytest.raises(openai.BadRequestError) as missing:
        runs.submit_tool_outputs(
            run_id=paused.id,
            thread_id=paused.thread_id,
            tool_outputs=[{"tool_call_id": call_a.id, "output": "1"}],
        )
    assert missing.value.param == "tool_outputs"
    assert call_b.id in error_message(missing.value)
    with pytest.raises(openai.BadRequestError) as unknown:
        runs.submit_tool_outputs(
            run_id=paused.id,
            thread_id=paused.thread_id,
            tool_outputs=[
                {"tool_call_id": call_a.id, "output": "1"},
                {"tool_call_id": call_b.id, "output": "2"},
                {"tool_call_id": "call_bogus", "output": "3"},
            ],
        )
    assert unknown.value.param == "tool_outputs"
    assert "call_bogus" in error_message(unknown.value)
    assert runs.retrieve(paused.id, thread_id=paused.thread_id).status == "requires_action"

    done = answer_all(client, paused)
    assert done.status == "completed"
    with pytest.raises(openai.BadRequestError) as late:
        runs.submit_tool_outputs(
            run_id=done.id,
            thread_id=done.thread_id,
            tool_outputs=[{"tool_call_id": call_a.id, "output": "1"}],
        )
    assert error_message(late.value) == 'Runs in status "completed" do not accept tool outputs.'


def test_cancel_queued_run_never_asks_the_model() -> None:
    model = ScriptedModel([Reply("never")])
    with (
        EmulatorServer(model, queue_delay=30, cancel_delay=0.01) as slow,
        make_client(slow) as client,
    ):
        run = start_run(client)
        assert run.status == "queued"
        cancelling = client.beta.threads.runs.cancel(run.id, thread_id=run.thread_id)
        assert cancelling.status == "cancelling"
        cancelled = poll(client, run)
        assert cancelled.status == "cancelled"
        assert cancelled.cancelled_at is not None
        assert cancelled.usage is not None
        assert model.used == 0


def test_cancel_in_progress_run(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([Reply("too late", delay=30)])
    run = start_run(client)
    runs = client.beta.threads.runs
    wait_status(client, run, "in_progress")

    assert runs.cancel(run.id, thread_id=run.thread_id).status == "cancelling"
    assert poll(client, run).status == "cancelled"
    assert client.beta.threads.messages.list(thread_id=run.thread_id, run_id=run.id).data == []


def test_cancel_requires_action_run_cancels_its_tool_step(
    client: OpenAI, server: EmulatorServer
) -> None:
    server.model = ScriptedModel([CallTools([ToolSpec("a")])])
    paused = run_to_pause(client)
    assert paused.status == "requires_action"

    client.beta.threads.runs.cancel(paused.id, thread_id=paused.thread_id)
    cancelled = poll(client, paused)
    assert cancelled.status == "cancelled"
    assert cancelled.required_action is None
    (step,) = client.beta.threads.runs.steps.list(run_id=paused.id, thread_id=paused.thread_id).data
    assert step.status == "cancelled"
    assert step.cancelled_at is not None


def test_cancel_of_a_terminal_run_is_a_400(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([Reply("hi")])
    done = run_to_pause(client)
    assert done.status == "completed"
    with pytest.raises(openai.BadRequestError) as caught:
        client.beta.threads.runs.cancel(done.id, thread_id=done.thread_id)
    assert error_message(caught.value) == "Cannot cancel run with status 'completed'."


def test_requires_action_run_expires_after_run_ttl() -> None:
    model = ScriptedModel([CallTools([ToolSpec("a")]), Stall()])
    with (
        EmulatorServer(model, run_ttl=0.6, queue_delay=0.01) as short,
        make_client(short) as client,
    ):
        paused = run_to_pause(client)
        assert paused.status == "requires_action"
        assert paused.expires_at is not None
        assert paused.expires_at >= paused.created_at

        expired = wait_status(client, paused, "expired")
        assert expired.required_action is None
        (step,) = client.beta.threads.runs.steps.list(
            run_id=paused.id, thread_id=paused.thread_id
        ).data
        assert (step.status, step.expired_at is not None) == ("expired", True)
        client.beta.threads.messages.create(
            thread_id=paused.thread_id, role="user", content="again"
        )

        stalled = start_run(client)
        assert poll(client, stalled).status == "expired"


@pytest.mark.parametrize(
    ("turn", "status"),
    [
        (Fail("rate_limit_exceeded", "slow down"), "failed"),
        (Incomplete("max_prompt_tokens"), "incomplete"),
        (Expire(), "expired"),
    ],
)
def test_terminal_turns(client: OpenAI, server: EmulatorServer, turn: object, status: str) -> None:
    server.model = ScriptedModel([turn])  # type: ignore[list-item]
    run = run_to_pause(client)

    assert run.status == status
    assert run.required_action is None
    assert run.usage is not None
    if status == "failed":
        assert run.last_error is not None
        assert (run.last_error.code, run.last_error.message) == ("rate_limit_exceeded", "slow down")
        assert run.failed_at is not None
    else:
        assert run.last_error is None
    if status == "incomplete":
        assert run.incomplete_details is not None
        assert run.incomplete_details.reason == "max_prompt_tokens"
    client.beta.threads.messages.create(thread_id=run.thread_id, role="user", content="unlocked")


def test_stall_stays_in_progress_until_cancelled(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([Stall()])
    run = start_run(client)
    runs = client.beta.threads.runs
    wait_status(client, run, "in_progress")
    for _ in range(5):
        assert runs.retrieve(run.id, thread_id=run.thread_id).status == "in_progress"

    runs.cancel(run.id, thread_id=run.thread_id)
    assert poll(client, run).status == "cancelled"


def test_turn_delay_keeps_the_run_in_progress_first(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([Reply("slow answer", delay=0.3)])
    run = start_run(client)
    assert wait_status(client, run, "in_progress").completed_at is None
    finished = poll(client, run)
    assert finished.status == "completed"
    assert reply_text(client, finished) == "slow answer"


def test_global_model_delay_is_added_to_every_turn() -> None:
    model = ScriptedModel([Reply("late")])
    with EmulatorServer(model, model_delay=0.3, queue_delay=0) as slow, make_client(slow) as client:
        run = start_run(client)
        assert wait_status(client, run, "in_progress").completed_at is None
        finished = poll(client, run)
        assert finished.status == "completed"
        assert finished.started_at is not None
        assert finished.completed_at is not None
        assert reply_text(client, finished) == "late"


def test_exhausted_script_fails_the_run_with_a_clear_message(
    client: OpenAI, server: EmulatorServer
) -> None:
    server.model = ScriptedModel([])
    run = run_to_pause(client)
    assert run.status == "failed"
    assert run.last_error is not None
    assert run.last_error.code == "server_error"
    assert "ScriptedModel has no turn left" in run.last_error.message


def test_model_exception_fails_the_run(client: OpenAI, server: EmulatorServer) -> None:
    def broken(context: TurnContext) -> Reply:
        raise ValueError("model is broken")

    server.model = broken
    run = run_to_pause(client)
    assert run.status == "failed"
    assert run.last_error is not None
    assert "ValueError: model is broken" in run.last_error.message


def test_plain_function_is_a_model(client: OpenAI, server: EmulatorServer) -> None:
    server.model = lambda context: Reply(f"you said {context.last_user_text}")
    run = run_to_pause(client, "ping")
    assert reply_text(client, run) == "you said ping"


def test_run_reads_carry_the_poll_after_header(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([Reply("x")])
    run = start_run(client)
    raw = client.beta.threads.runs.with_raw_response.retrieve(run.id, thread_id=run.thread_id)
    assert raw.headers["openai-poll-after-ms"] == "10"
    assert int(raw.headers["openai-poll-after-ms"]) == server.config.poll_after_ms
    poll(client, run)


def test_run_404s(client: OpenAI) -> None:
    thread = client.beta.threads.create()
    runs = client.beta.threads.runs
    with pytest.raises(openai.NotFoundError) as assistant:
        runs.create(thread_id=thread.id, assistant_id="asst_x")
    assert error_message(assistant.value) == "No assistant found with id 'asst_x'."
    with pytest.raises(openai.NotFoundError) as run:
        runs.retrieve("run_x", thread_id=thread.id)
    assert error_message(run.value) == "No run found with id 'run_x'."
    with pytest.raises(openai.NotFoundError) as missing_thread:
        runs.create(thread_id="thread_x", assistant_id=DEMO_ASSISTANT_ID)
    assert error_message(missing_thread.value) == "No thread found with id 'thread_x'."
    with pytest.raises(openai.NotFoundError):
        runs.cancel("run_x", thread_id=thread.id)
    assert runs.list(thread_id=thread.id).data == []


def test_run_create_options_are_applied_and_echoed(client: OpenAI, server: EmulatorServer) -> None:
    model = ScriptedModel([Reply("ok")])
    server.model = model
    thread = client.beta.threads.create()
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=DEMO_ASSISTANT_ID,
        model="override-model",
        instructions="Only this.",
        additional_instructions="And this.",
        additional_messages=[{"role": "user", "content": "extra question"}],
        tools=[{"type": "function", "function": {"name": "other_tool"}}],
        metadata={"trace": "t1"},
        parallel_tool_calls=False,
        poll_interval_ms=10,
    )
    assert run.status == "completed"
    assert run.model == "override-model"
    assert run.instructions == "Only this.\n\nAnd this."
    assert [t.function.name for t in run.tools if t.type == "function"] == ["other_tool"]
    assert run.metadata == {"trace": "t1"}
    assert run.parallel_tool_calls is False
    (context,) = model.contexts
    assert context.tool_names == ("other_tool",)
    assert [m.text for m in context.messages] == ["extra question"]
    listed = client.beta.threads.runs.list(thread_id=thread.id).data
    assert [r.id for r in listed] == [run.id]


def test_deleting_a_thread_stops_its_runs(client: OpenAI, server: EmulatorServer) -> None:
    server.model = ScriptedModel([Stall()])
    run = start_run(client)
    client.beta.threads.delete(run.thread_id)
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)


async def test_async_client_round_trip(server: EmulatorServer) -> None:
    server.model = ScriptedModel([CallTools([ToolSpec("a", {"q": 1})]), Reply("async done")])
    async with AsyncOpenAI(
        base_url=server.base_url, api_key="k", _strict_response_validation=True
    ) as client:
        thread = await client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
        run = await client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=DEMO_ASSISTANT_ID, poll_interval_ms=10
        )
        assert run.status == "requires_action"
        assert run.required_action is not None
        call = run.required_action.submit_tool_outputs.tool_calls[0]
        run = await client.beta.threads.runs.submit_tool_outputs_and_poll(
            run_id=run.id,
            thread_id=thread.id,
            tool_outputs=[{"tool_call_id": call.id, "output": "x"}],
            poll_interval_ms=10,
        )
        assert run.status == "completed"
        messages = await client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id)
        block = messages.data[0].content[0]
        assert block.type == "text"
        assert block.text.value == "async done"
