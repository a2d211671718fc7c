"""Pydantic models of the Responses and Conversations request bodies (untrusted input).

Like the Assistants models they forbid unknown fields and are strict about types. Input items
are told apart by ``type``; an item without one is a message (the SDK's "easy input message").
Request fields the emulator accepts but does not act on are typed `Any` and, where the
Response object has them, echoed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Discriminator, Field, Tag

from ..common.parsing import Body as _Body
from ..common.parsing import Metadata


class Body(_Body):
    UNKNOWN_PARAMETER = "Unknown parameter: '{param}'."


__all__ = [
    "ConversationCreate",
    "ConversationUpdate",
    "FunctionCallInput",
    "FunctionCallOutputInput",
    "InputItem",
    "ItemReferenceInput",
    "ItemsCreate",
    "MessageInput",
    "ReasoningInput",
    "ResponseCreate",
    "ResponseTool",
]

MAX_ITEMS_PER_REQUEST = 20


class InputText(Body):
    type: Literal["input_text"]
    text: str


class OutputText(Body):
    type: Literal["output_text"]
    text: str
    annotations: list[dict[str, Any]] = []
    logprobs: list[dict[str, Any]] | None = None


class Refusal(Body):
    type: Literal["refusal"]
    refusal: str


class InputImage(Body):
    type: Literal["input_image"]
    detail: Literal["low", "high", "auto", "original"] = "auto"
    image_url: str | None = None
    file_id: str | None = None


class InputFile(Body):
    type: Literal["input_file"]
    file_id: str | None = None
    file_data: str | None = None
    file_url: str | None = None
    filename: str | None = None


ContentPart = Annotated[
    InputText | OutputText | Refusal | InputImage | InputFile, Field(discriminator="type")
]
OutputPart = Annotated[InputText | InputImage | InputFile, Field(discriminator="type")]


class MessageInput(Body):
    type: Literal["message"] = "message"
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[ContentPart]
    id: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None
    phase: Literal["commentary", "final_answer"] | None = None


class FunctionCallInput(Body):
    """A function call replayed by the client (stateless chaining)."""

    type: Literal["function_call"]
    call_id: str
    name: str
    arguments: str
    id: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class FunctionCallOutputInput(Body):
    type: Literal["function_call_output"]
    call_id: Annotated[str, Field(min_length=1)]
    output: str | list[OutputPart]
    id: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None


class ItemReferenceInput(Body):
    type: Literal["item_reference"]
    id: str


class ReasoningInput(Body):
    """A reasoning item a client replays from an earlier output (kept, never read)."""

    type: Literal["reasoning"]
    id: str | None = None
    summary: list[dict[str, Any]] = []
    content: list[dict[str, Any]] | None = None
    encrypted_content: str | None = None
    status: Literal["in_progress", "completed", "incomplete"] | None = None


def _item_type(value: Any) -> str:
    if isinstance(value, dict):
        kind = value.get("type", "message")
        return kind if isinstance(kind, str) else "message"
    return str(getattr(value, "type", "message"))


InputItem = Annotated[
    Annotated[MessageInput, Tag("message")]
    | Annotated[FunctionCallInput, Tag("function_call")]
    | Annotated[FunctionCallOutputInput, Tag("function_call_output")]
    | Annotated[ItemReferenceInput, Tag("item_reference")]
    | Annotated[ReasoningInput, Tag("reasoning")],
    Discriminator(_item_type),
]


class FunctionTool(Body):
    """A flat function tool; the only kind of tool a scripted model can call."""

    type: Literal["function"]
    name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None
    defer_loading: bool | None = None


# Tools the real API runs itself (or hands to the client as other item types). The emulator
# accepts and echoes them; its model cannot use them (README, "What the emulator does not do").
HOSTED_TOOL_TYPES = (
    "web_search",
    "web_search_preview",
    "web_search_2025_08_26",
    "web_search_preview_2025_03_11",
    "file_search",
    "code_interpreter",
    "mcp",
    "custom",
    "image_generation",
    "computer_use_preview",
    "computer",
    "local_shell",
    "shell",
    "apply_patch",
    "tool_search",
)


class HostedTool(Body):
    """Any tool of a hosted type, echoed as given."""

    model_config = ConfigDict(extra="allow", strict=True)
    type: Literal[HOSTED_TOOL_TYPES]  # type: ignore[valid-type]


ResponseTool = Annotated[FunctionTool | HostedTool, Field(discriminator="type")]


class ToolChoiceObject(Body):
    """A forced or restricted choice: a function, ``allowed_tools``, a hosted tool, ..."""

    model_config = ConfigDict(extra="allow", strict=True)
    type: Literal[("function", "allowed_tools", *HOSTED_TOOL_TYPES)]  # type: ignore[valid-type]


class ConversationRef(Body):
    id: str


class ResponseCreate(Body):
    model: str
    input: str | list[InputItem] | None = None
    instructions: str | None = None
    tools: Annotated[list[ResponseTool], Field(max_length=128)] | None = None
    tool_choice: Literal["auto", "none", "required"] | ToolChoiceObject | None = None
    parallel_tool_calls: bool | None = None
    conversation: str | ConversationRef | None = None
    previous_response_id: str | None = None
    store: bool | None = None
    background: bool | None = None
    stream: bool | None = None
    metadata: Metadata | None = None
    max_output_tokens: Annotated[int, Field(ge=16)] | None = None
    max_tool_calls: int | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    truncation: Literal["auto", "disabled"] | None = None
    text: dict[str, Any] | None = None
    reasoning: dict[str, Any] | None = None
    user: str | None = None
    prompt_cache_key: str | None = None
    safety_identifier: str | None = None
    # Accepted and ignored.
    include: list[str] | None = None
    service_tier: str | None = None
    stream_options: dict[str, Any] | None = None
    prompt: Any = None
    prompt_cache_retention: Any = None
    prompt_cache_options: Any = None
    context_management: Any = None
    background_options: Any = None
    moderation: Any = None
    access_programs: Any = None
    image: Any = None

    @property
    def conversation_id(self) -> str | None:
        if isinstance(self.conversation, ConversationRef):
            return self.conversation.id
        return self.conversation


Items = Annotated[list[InputItem], Field(max_length=MAX_ITEMS_PER_REQUEST)]


class ConversationCreate(Body):
    items: Items | None = None
    metadata: Metadata | None = None


class ConversationUpdate(Body):
    metadata: Metadata


class ItemsCreate(Body):
    items: Annotated[Items, Field(min_length=1)]
