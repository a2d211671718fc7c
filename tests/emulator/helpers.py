"""Small helpers shared by the emulator tests."""

from __future__ import annotations

from openai import OpenAI
from openai.types.beta.threads import Run

from emulator import DEMO_ASSISTANT_ID


def start_run(client: OpenAI, text: str = "hello", assistant_id: str = DEMO_ASSISTANT_ID) -> Run:
    """A new thread with one user message and a run on it (not waited for)."""
    thread = client.beta.threads.create(messages=[{"role": "user", "content": text}])
    return client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant_id)


def poll(client: OpenAI, run: Run) -> Run:
    return client.beta.threads.runs.poll(run.id, thread_id=run.thread_id, poll_interval_ms=10)


def run_to_pause(client: OpenAI, text: str = "hello") -> Run:
    """Create a thread and run and poll until the run stops (requires_action or terminal)."""
    thread = client.beta.threads.create(messages=[{"role": "user", "content": text}])
    return client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=DEMO_ASSISTANT_ID, poll_interval_ms=10
    )


def answer_all(client: OpenAI, run: Run, output: str = "ok") -> Run:
    """Submit `output` for every pending tool call and poll until the run stops again."""
    assert run.required_action is not None
    calls = run.required_action.submit_tool_outputs.tool_calls
    return client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=run.thread_id,
        tool_outputs=[{"tool_call_id": call.id, "output": output} for call in calls],
        poll_interval_ms=10,
    )


def reply_text(client: OpenAI, run: Run) -> str:
    """The text of the (single) assistant message the run wrote."""
    messages = client.beta.threads.messages.list(thread_id=run.thread_id, run_id=run.id).data
    assert len(messages) == 1, messages
    block = messages[0].content[0]
    assert block.type == "text"
    return block.text.value


def wait_status(client: OpenAI, run: Run, status: str, timeout: float = 5.0) -> Run:
    """Retrieve the run until it has `status` (fails after `timeout` seconds)."""
    from .conftest import wait_for

    runs = client.beta.threads.runs

    def probe() -> Run | None:
        current = runs.retrieve(run.id, thread_id=run.thread_id)
        return current if current.status == status else None

    return wait_for(probe, timeout)
