"""What a chat completion's model sees, and the checks on its messages.

The messages become the same items a Responses history holds (user and assistant messages,
function calls, their outputs), so one `TurnContext` and one model serve every protocol; the
``system`` and ``developer`` messages are the instructions. The checks are the real API's 400s:
an assistant message with ``tool_calls`` must be followed by a ``tool`` message for each call,
and a ``tool`` message must answer such a call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..common.errors import bad_request
from ..common.turns import TurnContext
from ..common.wire import JsonObj
from ..responses.context import turn_context
from ..responses.objects import function_call_item, function_call_output_item, message_item
from .schemas import AssistantMessage, ChatCreate, ChatMessage, SystemMessage, ToolMessage

__all__ = ["chat_context", "check_messages", "request_view"]

UNANSWERED = (
    "An assistant message with 'tool_calls' must be followed by tool messages responding to "
    "each 'tool_call_id'. The following tool_call_ids did not have response messages: {ids}"
)
STRAY_TOOL = (
    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
    "with 'tool_calls'."
)


def _text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(
        (part.get("text", "") if isinstance(part, dict) else getattr(part, "text", "")) or ""
        for part in content
    )


def check_messages(messages: Sequence[ChatMessage]) -> None:
    """The API's 400s for tool calls and tool messages out of order."""
    waiting: list[str] = []
    waiting_at = 0
    for index, message in enumerate(messages):
        if isinstance(message, ToolMessage):
            if message.tool_call_id not in waiting:
                raise bad_request(STRAY_TOOL, param=f"messages.[{index}].role")
            waiting.remove(message.tool_call_id)
            continue
        if waiting:
            raise bad_request(
                UNANSWERED.format(ids=", ".join(waiting)), param=f"messages.[{waiting_at}].role"
            )
        if isinstance(message, AssistantMessage) and message.tool_calls:
            waiting = [call.id for call in message.tool_calls]
            waiting_at = index
    if waiting:
        raise bad_request(
            UNANSWERED.format(ids=", ".join(waiting)), param=f"messages.[{waiting_at}].role"
        )


def _items(messages: Sequence[ChatMessage]) -> list[JsonObj]:
    items: list[JsonObj] = []
    for message in messages:
        if isinstance(message, SystemMessage):
            continue
        if isinstance(message, ToolMessage):
            items.append(function_call_output_item(message.tool_call_id, _text(message.content)))
            continue
        text = _text(message.content)
        if text or not isinstance(message, AssistantMessage):
            items.append(message_item(message.role, text))
        if isinstance(message, AssistantMessage):
            items.extend(
                function_call_item(call.id, call.function.name, call.function.arguments)
                for call in message.tool_calls or ()
            )
    return items


def request_view(body: ChatCreate, completion_id: str) -> JsonObj:
    """The request in the shape the Responses helpers read (`turn_context`, `tool_policy`)."""
    instructions = "\n\n".join(
        _text(m.content) for m in body.messages if isinstance(m, SystemMessage)
    )
    return {
        "id": completion_id,
        "conversation": None,
        "instructions": instructions,
        "tools": [
            {
                "type": "function",
                "name": tool.function.name,
                "parameters": tool.function.parameters,
            }
            for tool in body.tools or ()
        ],
        "tool_choice": body.tool_choice or "auto",
        "parallel_tool_calls": body.parallel_tool_calls is not False,
    }


def chat_context(body: ChatCreate, view: JsonObj) -> TurnContext:
    """The model's view of the request: its messages as items, oldest first."""
    return turn_context(view, _items(body.messages), {})
