"""Pydantic models of the Assistants v2 request bodies (untrusted input).

Models forbid unknown fields, as the real API does ("Unrecognized request argument
supplied"), and are strict about types. `parsing.parse_body` turns a validation failure into a
400 naming the bad field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from ..common.parsing import Body, Metadata

__all__ = [
    "AssistantCreate",
    "AssistantUpdate",
    "MessageCreate",
    "MetadataUpdate",
    "RunCreate",
    "RunFields",
    "ThreadAndRunCreate",
    "SubmitToolOutputs",
    "ThreadCreate",
    "ThreadUpdate",
]


class FunctionDefinition(Body):
    name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionTool(Body):
    type: Literal["function"]
    function: FunctionDefinition


class CodeInterpreterTool(Body):
    type: Literal["code_interpreter"]


class FileSearchTool(Body):
    type: Literal["file_search"]
    file_search: dict[str, Any] | None = None


Tool = Annotated[FunctionTool | CodeInterpreterTool | FileSearchTool, Field(discriminator="type")]


# The API's limit on one message's text (characters).
MAX_MESSAGE_CHARS = 256_000


class TextPart(Body):
    type: Literal["text"]
    text: Annotated[str, Field(max_length=MAX_MESSAGE_CHARS)]


class ImageUrlPart(Body):
    type: Literal["image_url"]
    image_url: dict[str, Any]


class ImageFilePart(Body):
    type: Literal["image_file"]
    image_file: dict[str, Any]


ContentPart = Annotated[TextPart | ImageUrlPart | ImageFilePart, Field(discriminator="type")]


class AssistantFields(Body):
    name: Annotated[str, Field(max_length=256)] | None = None
    description: Annotated[str, Field(max_length=512)] | None = None
    instructions: Annotated[str, Field(max_length=256_000)] | None = None
    tools: Annotated[list[Tool], Field(max_length=128)] = []
    metadata: Metadata | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    response_format: str | dict[str, Any] | None = None
    tool_resources: dict[str, Any] | None = None
    reasoning_effort: str | None = None


class AssistantCreate(AssistantFields):
    model: str


class AssistantUpdate(AssistantFields):
    model: str | None = None


class MessageCreate(Body):
    role: Literal["user", "assistant"]
    content: (
        Annotated[str, Field(max_length=MAX_MESSAGE_CHARS)]
        | Annotated[list[ContentPart], Field(min_length=1, max_length=64)]
    )
    attachments: list[dict[str, Any]] | None = None
    metadata: Metadata | None = None


class ThreadCreate(Body):
    messages: Annotated[list[MessageCreate], Field(max_length=32)] = []
    metadata: Metadata | None = None
    tool_resources: dict[str, Any] | None = None


class ThreadUpdate(Body):
    metadata: Metadata | None = None
    tool_resources: dict[str, Any] | None = None


class TruncationStrategy(Body):
    type: Literal["auto", "last_messages"]
    last_messages: Annotated[int, Field(ge=1)] | None = None


class RunFields(Body):
    """What a run is made of: ``POST /threads/{id}/runs`` and ``POST /threads/runs`` share it."""

    assistant_id: str
    model: str | None = None
    instructions: str | None = None
    tools: Annotated[list[Tool], Field(max_length=128)] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    max_prompt_tokens: Annotated[int, Field(ge=256)] | None = None
    max_completion_tokens: Annotated[int, Field(ge=256)] | None = None
    truncation_strategy: TruncationStrategy | None = None
    response_format: str | dict[str, Any] | None = None
    reasoning_effort: str | None = None
    metadata: Metadata | None = None
    stream: bool | None = None


class RunCreate(RunFields):
    additional_instructions: str | None = None
    additional_messages: list[MessageCreate] | None = None


class ThreadAndRunCreate(RunFields):
    """``POST /threads/runs``: a new thread (its messages and metadata) and a run on it."""

    thread: ThreadCreate | None = None
    tool_resources: dict[str, Any] | None = None


class MetadataUpdate(Body):
    """Modify a message or a run: only its metadata changes."""

    metadata: Metadata | None = None


class ToolOutput(Body):
    tool_call_id: str
    output: str


class SubmitToolOutputs(Body):
    tool_outputs: Annotated[list[ToolOutput], Field(min_length=1)]
    stream: bool | None = None
