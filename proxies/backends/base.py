"""The seam between the Assistant Proxy and a remote assistant API.

Everything above this module speaks toolkit types only: a backend turns a wire protocol
(Assistants v2, Responses) into `RunSnapshot`s and maps SDK exceptions to
`proxies.errors.BackendError`s. Swapping the protocol means writing one more `Backend`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from mediator.usage import Usage
from tools.types import ToolCall, ToolResult

__all__ = [
    "AssistantCatalog",
    "AssistantDefinition",
    "Backend",
    "RunError",
    "RunSnapshot",
    "RunStatus",
    "RunStepInfo",
    "StreamItem",
    "TextDelta",
    "Usage",
]


class RunStatus(StrEnum):
    """A run's status, normalised across protocols (the Assistants v2 names)."""

    QUEUED = "queued"
    IN_PROGRESS = "in_progress"
    REQUIRES_ACTION = "requires_action"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    FAILED = "failed"
    COMPLETED = "completed"
    INCOMPLETE = "incomplete"
    EXPIRED = "expired"

    @property
    def is_active(self) -> bool:
        """True while the remote side is still working (the thread stays locked)."""
        return self in _ACTIVE

    @property
    def is_terminal(self) -> bool:
        return not self.is_active and self is not RunStatus.REQUIRES_ACTION


_ACTIVE = frozenset({RunStatus.QUEUED, RunStatus.IN_PROGRESS, RunStatus.CANCELLING})


@dataclass(frozen=True, slots=True)
class RunError:
    """Why a run did not complete: the API's `last_error` or `incomplete_details`."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class RunSnapshot:
    """What the backend saw of a run at one moment."""

    run_id: str
    thread_id: str
    status: RunStatus
    tool_calls: tuple[ToolCall, ...] = ()
    error: RunError | None = None
    #: Tokens the run has used so far, as far as the protocol says (None: not reported yet).
    usage: Usage | None = None
    #: The model the server says runs it.
    model: str | None = None
    # The server's hint (`openai-poll-after-ms`) for when to look again, in seconds.
    poll_after_s: float | None = None
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True, slots=True)
class RunStepInfo:
    """One step of a run, as shown to people after an exchange."""

    step_id: str
    type: str
    status: str
    detail: str


@dataclass(frozen=True, slots=True)
class AssistantDefinition:
    """What an assistant is: the same definition serves every protocol.

    `tools` holds function-tool schemas in the flat form (`name`, `description`,
    `parameters`); each backend puts them into its protocol's shape.
    """

    name: str
    model: str
    instructions: str
    tools: tuple[dict[str, object], ...] = ()


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the assistant's reply, as a streaming backend receives it."""

    run_id: str
    text: str


#: What a stream yields: snapshots whenever the run's status changes (the first one names
#: the run), and text deltas as the reply arrives. A stream ends after a snapshot whose
#: status is `requires_action` or terminal; one that ends earlier (dropped) is resumed by
#: polling the same run.
StreamItem = RunSnapshot | TextDelta


class AssistantCatalog(Protocol):
    """Where assistant definitions live for protocols without an assistant object.

    `get` may block (a database): backends call it in a worker thread, unless the catalog
    has a class attribute ``blocks = False`` (it only reads memory).
    """

    def get(self, assistant_id: str) -> AssistantDefinition | None: ...

    def save(self, definition: AssistantDefinition) -> str: ...


class Backend(ABC):
    """The operations the Assistant Proxy needs from a remote assistant API.

    Implementations are async end to end, never block the event loop, and raise only
    `proxies.errors.BackendError` subclasses.
    """

    name: str = "backend"
    #: True when `stream_run` and `stream_tool_outputs` are implemented.
    supports_streaming: bool = False
    #: True when `resume_stream` can pick a broken stream up where it broke.
    supports_resume: bool = False
    #: True when the run id is the exchange id (the protocol has no run object of its own),
    #: so a run can be named before the server ever answered.
    runs_are_exchanges: bool = False
    #: True when usage is reported per model response as the run goes (Responses); False when
    #: only the finished run reports it, for all its model calls together (Assistants).
    usage_per_response: bool = False

    @abstractmethod
    async def create_assistant(self, definition: AssistantDefinition) -> str:
        """Make the assistant known to the remote side and return its id."""

    async def check_assistant(self, assistant_id: str) -> None:
        """Raise `BackendNotFoundError` if `assistant_id` is unknown; create nothing.

        The default checks nothing (a protocol with no assistant objects of its own).
        """
        return None

    async def resolve(self) -> Backend:
        """The backend that serves this one's calls, decided now if it was not yet.

        Itself, except for a backend that chooses on first use (`auto` probes the server):
        what it names (`resolve().name`) is the protocol actually spoken.
        """
        return self

    @abstractmethod
    async def create_thread(self) -> str:
        """Open a conversation on the remote side and return its id."""

    @abstractmethod
    async def start_run(
        self,
        thread_id: str,
        assistant_id: str,
        text: str,
        *,
        exchange_id: str | None = None,
        recovering: bool = False,
    ) -> RunSnapshot:
        """Add the user's message to the thread and start a run on it, for `exchange_id`
        (the mediator's id; a protocol without its own run ids uses it as the run id).

        `recovering` says an earlier attempt for this exchange failed ambiguously and
        `find_run` found no run: what that attempt did create (the message) is reused.
        """

    @abstractmethod
    async def get_run(self, thread_id: str, run_id: str) -> RunSnapshot:
        """Read the run's current state."""

    @abstractmethod
    async def submit_tool_outputs(
        self, thread_id: str, run_id: str, results: Sequence[ToolResult]
    ) -> RunSnapshot:
        """Hand every tool output of the pending action back in one request."""

    @abstractmethod
    async def cancel_run(self, thread_id: str, run_id: str) -> RunSnapshot:
        """Ask the remote side to stop the run (it may still finish)."""

    @abstractmethod
    async def get_reply(self, thread_id: str, run_id: str) -> str:
        """The text of this run's assistant messages, all text blocks, oldest first."""

    @abstractmethod
    async def list_steps(self, thread_id: str, run_id: str) -> list[RunStepInfo]:
        """The run's steps, oldest first."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release connections."""

    def stream_run(
        self,
        thread_id: str,
        assistant_id: str,
        text: str,
        *,
        exchange_id: str | None = None,
        recovering: bool = False,
    ) -> AsyncIterator[StreamItem]:
        """Like `start_run`, streaming the run until it needs action or ends."""
        raise NotImplementedError(f"the {self.name} backend does not stream")

    def resume_stream(self, thread_id: str, run_id: str) -> AsyncIterator[StreamItem]:
        """Continue a broken stream of `run_id` after the last event it delivered."""
        raise NotImplementedError(f"the {self.name} backend cannot resume a stream")

    # -- recovering from ambiguous failures (DESIGN.md section 9) ------------------------------

    async def prepare_resume(
        self, thread_id: str, assistant_id: str, exchange_id: str, text: str
    ) -> None:
        """Get ready to `find_run` an exchange that another process began (with `text`).

        Protocols whose runs can be looked up remotely need nothing (the default)."""
        return None

    async def find_run(
        self, thread_id: str, exchange_id: str, *, submitted: Sequence[str] = ()
    ) -> RunSnapshot | None:
        """After a request that may or may not have been acted on (a lost reply, a reset, a
        stream cut before its first event): the run that `exchange_id`'s attempt left, or
        None when nothing of it exists. `submitted` names tool calls whose outputs were being
        sent: a snapshot past them says they were accepted.

        The default knows nothing: protocols that can look implement it.
        """
        return None

    async def settle_run(self, thread_id: str, run_id: str) -> bool:
        """Leave the conversation usable after an exchange ended early: stop the run if it is
        still working and answer any tool call it left without an output. True when nothing
        holds the conversation any more; False to be asked again a little later."""
        snapshot = await self.get_run(thread_id, run_id)
        if snapshot.status.is_terminal:
            return True
        if snapshot.status is not RunStatus.CANCELLING:
            snapshot = await self.cancel_run(thread_id, run_id)
        return snapshot.status.is_terminal

    def stream_tool_outputs(
        self, thread_id: str, run_id: str, results: Sequence[ToolResult]
    ) -> AsyncIterator[StreamItem]:
        """Like `submit_tool_outputs`, streaming the run until it needs action or ends."""
        raise NotImplementedError(f"the {self.name} backend does not stream")
