"""Pydantic models of the Chat Completions request body (untrusted input).

Messages are told apart by ``role``. Like the other request models they refuse unknown fields
("Unrecognized request argument supplied: foo") and are strict about types; parameters the
emulator accepts without acting on them are typed `Any`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from ..common.parsing import Body

__all__ = ["ChatCreate", "ChatMessage", "ChatTool"]


class TextPart(Body):
    type: Literal["text"]
    text: str


class FunctionRef(Body):
    name: str
    arguments: str


class ToolCallIn(Body):
    id: str
    type: Literal["function"] = "function"
    function: FunctionRef


class SystemMessage(Body):
    role: Literal["system", "developer"]
    content: str | list[TextPart]
    name: str | None = None


class UserMessage(Body):
    role: Literal["user"]
    # Text, or parts (images, audio and files are accepted; the models read the text).
    content: str | list[dict[str, Any]]
    name: str | None = None


class AssistantMessage(Body):
    role: Literal["assistant"]
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[ToolCallIn] | None = None
    name: str | None = None
    refusal: str | None = None
    audio: Any = None
    function_call: Any = None


class ToolMessage(Body):
    role: Literal["tool"]
    tool_call_id: str
    content: str | list[TextPart]


ChatMessage = Annotated[
    SystemMessage | UserMessage | AssistantMessage | ToolMessage, Field(discriminator="role")
]


class FunctionDefinition(Body):
    name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ChatTool(Body):
    type: Literal["function"]
    function: FunctionDefinition


class ChatCreate(Body):
    model: str
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    tools: Annotated[list[ChatTool], Field(max_length=128)] | None = None
    tool_choice: Literal["auto", "none", "required"] | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    stream: bool | None = None
    stream_options: dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    n: Annotated[int, Field(ge=1, le=1)] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    # Accepted and ignored.
    stop: Any = None
    seed: Any = None
    user: Any = None
    metadata: Any = None
    store: Any = None
    frequency_penalty: Any = None
    presence_penalty: Any = None
    logprobs: Any = None
    top_logprobs: Any = None
    logit_bias: Any = None
    service_tier: Any = None
    reasoning_effort: Any = None
    modalities: Any = None
    prediction: Any = None
    audio: Any = None
    web_search_options: Any = None
    safety_identifier: Any = None
    prompt_cache_key: Any = None
    verbosity: Any = None
