"""A read-only look at what the server holds for one thread or conversation (for tests).

After a fault, a test asks "did the retry duplicate anything?": `Holdings` counts, for an
Assistants thread or a Responses conversation, the user messages, assistant messages, function
calls, tool outputs and the runs or responses still active on it. It is computed on the server's
event loop (`EmulatorServer.holdings`), so it never sees half a transition.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..assistants.store import ACTIVE_STATUSES
from .state import EmulatorState

__all__ = ["Holdings", "holdings"]


@dataclass(frozen=True, slots=True)
class Holdings:
    """What the server holds for one thread (``thread_…``) or conversation (``conv_…``)."""

    user_messages: int = 0
    assistant_messages: int = 0
    function_calls: int = 0
    tool_outputs: int = 0
    active: int = 0  # runs (thread) or responses (conversation) not yet ended


def holdings(state: EmulatorState, owner_id: str) -> Holdings:
    """Count what `owner_id` holds; `KeyError` when there is no such thread or conversation."""
    if owner_id in state.store.threads:
        return _thread(state, owner_id)
    if owner_id in state.responses_store.conversations:
        return _conversation(state, owner_id)
    raise KeyError(f"no thread or conversation with id {owner_id!r}")


def _thread(state: EmulatorState, thread_id: str) -> Holdings:
    messages = list(state.store.messages[thread_id].values())
    runs = list(state.store.runs[thread_id].values())
    calls = [
        call
        for run in runs
        for step in state.store.run_steps(run["id"])
        if step["type"] == "tool_calls"
        for call in step["step_details"]["tool_calls"]
    ]
    return Holdings(
        user_messages=sum(m["role"] == "user" for m in messages),
        assistant_messages=sum(m["role"] == "assistant" for m in messages),
        function_calls=len(calls),
        tool_outputs=sum(call["function"]["output"] is not None for call in calls),
        active=sum(run["status"] in ACTIVE_STATUSES for run in runs),
    )


def _conversation(state: EmulatorState, conversation_id: str) -> Holdings:
    items = state.responses_store.conversation_items(conversation_id)
    messages = [item for item in items if item["type"] == "message"]
    active = state.responses_store.active_on(conversation_id)
    return Holdings(
        user_messages=sum(m["role"] == "user" for m in messages),
        assistant_messages=sum(m["role"] == "assistant" for m in messages),
        function_calls=sum(item["type"] == "function_call" for item in items),
        tool_outputs=sum(item["type"] == "function_call_output" for item in items),
        active=0 if active is None else 1,
    )
