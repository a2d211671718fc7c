"""The vocabulary of a model turn: what a model sees (`TurnContext`) and what it decides (`Turn`).

A run is a sequence of turns. On each turn the run's model gets a `TurnContext` and answers
with one of these frozen values:

- `Reply(text)`: the run writes an assistant message and completes.
- `CallTools([ToolSpec(name, arguments), ...])`: the run stops in ``requires_action`` with
  parallel function calls; the next turn comes after the outputs are submitted.
- `Fail(code, message)`, `Incomplete(reason)`, `Expire()`: the run ends that way.
- `Stall()`: the run stays ``in_progress`` until it is cancelled or expires.

`delay` is the time, in seconds, the run spends ``in_progress`` before the outcome.

`ScriptedModel` hands out its turns in order, one per `decide` call, whichever run asks. It is
thread-safe (runs decide in worker threads). When it runs out, `decide` raises
`ScriptExhaustedError` and the run that asked fails with that message.

The same turns decide a response of the Responses API (one turn per response): `Reply` and
`CallTools` complete it with a message or with ``function_call`` items; `Fail` fails it with
``error = {code, message}``; `Incomplete` ends it ``incomplete`` with reason
``max_output_tokens``; `Expire` fails it with code ``server_error`` (Responses have no
``expired`` status); `Stall` keeps it ``in_progress`` until it is cancelled or the server's
`run_ttl` passes, which fails it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias, runtime_checkable

from .errors import ScriptExhaustedError

__all__ = [
    "CallTools",
    "Expire",
    "Fail",
    "Incomplete",
    "Model",
    "Reply",
    "Stall",
    "ThreadMessage",
    "ToolExchange",
    "ScriptedModel",
    "ToolSpec",
    "Turn",
    "TurnContext",
    "as_model",
]

FAIL_CODES = frozenset({"server_error", "rate_limit_exceeded", "invalid_prompt"})
INCOMPLETE_REASONS = frozenset({"max_completion_tokens", "max_prompt_tokens"})


def _check_delay(delay: float) -> None:
    if delay < 0:
        raise ValueError(f"delay must be >= 0 seconds, not {delay!r}")


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One function call the model asks for.

    A dict `arguments` is sent as JSON; a str is sent verbatim (so a test can send invalid JSON).
    """

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)

    def arguments_json(self) -> str:
        """The arguments as the wire sends them: always a string."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments))


@dataclass(frozen=True, slots=True)
class Reply:
    """Write an assistant message with `text` and complete the run."""

    text: str
    delay: float = 0.0

    def __post_init__(self) -> None:
        _check_delay(self.delay)


@dataclass(frozen=True, slots=True)
class CallTools:
    """Ask for one or more parallel function calls: the run goes to ``requires_action``."""

    calls: Sequence[ToolSpec]
    delay: float = 0.0

    def __post_init__(self) -> None:
        _check_delay(self.delay)
        if not self.calls:
            raise ValueError("CallTools needs at least one ToolSpec")
        object.__setattr__(self, "calls", tuple(self.calls))


@dataclass(frozen=True, slots=True)
class Fail:
    """End the run as ``failed`` with ``last_error = {code, message}``."""

    code: str = "server_error"
    message: str = "The scripted model failed this run."
    delay: float = 0.0

    def __post_init__(self) -> None:
        _check_delay(self.delay)
        if self.code not in FAIL_CODES:
            raise ValueError(f"Fail.code must be one of {sorted(FAIL_CODES)}, not {self.code!r}")


@dataclass(frozen=True, slots=True)
class Incomplete:
    """End the run as ``incomplete`` with ``incomplete_details = {reason}``."""

    reason: str = "max_completion_tokens"
    delay: float = 0.0

    def __post_init__(self) -> None:
        _check_delay(self.delay)
        if self.reason not in INCOMPLETE_REASONS:
            raise ValueError(
                f"Incomplete.reason must be one of {sorted(INCOMPLETE_REASONS)}, "
                f"not {self.reason!r}"
            )


@dataclass(frozen=True, slots=True)
class Expire:
    """End the run as ``expired`` (without waiting for its ``expires_at``)."""

    delay: float = 0.0

    def __post_init__(self) -> None:
        _check_delay(self.delay)


@dataclass(frozen=True, slots=True)
class Stall:
    """Stay ``in_progress`` until the run is cancelled or reaches ``expires_at``."""

    @property
    def delay(self) -> float:
        return 0.0


Turn: TypeAlias = Reply | CallTools | Fail | Incomplete | Expire | Stall


@dataclass(frozen=True, slots=True)
class ThreadMessage:
    """A message of the thread as the model sees it: its role and its text parts joined."""

    role: str
    text: str
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class ToolExchange:
    """A function call of the current run and, once submitted, its output."""

    call_id: str
    name: str
    arguments: str
    output: str | None = None


@dataclass(frozen=True, slots=True)
class TurnContext:
    """Everything a model may look at to decide a turn.

    `messages` is the whole thread in order, oldest first. `tool_turns` holds the current run's
    earlier tool turns in order, each a tuple of the parallel calls of that turn.
    `earlier_tool_calls` holds the tool calls of the thread's earlier runs (exchanges), oldest
    first, with their outputs: what a model already knows from the conversation.

    On the Responses protocol (`protocol` ``"responses"``) the "thread" is the conversation or
    the ``previous_response_id`` chain: `thread_id` is the conversation id ("" without one),
    `run_id` the response id, `assistant_id` "", and `tool_turns` the function calls made since
    the newest user message (see `emulator.responses_context`).
    """

    thread_id: str
    run_id: str
    assistant_id: str
    instructions: str
    tool_names: tuple[str, ...]
    messages: tuple[ThreadMessage, ...]
    tool_turns: tuple[tuple[ToolExchange, ...], ...] = ()
    protocol: Literal["assistants", "responses"] = "assistants"
    earlier_tool_calls: tuple[ToolExchange, ...] = ()

    @property
    def tool_calls(self) -> tuple[ToolExchange, ...]:
        """All tool calls of the current run so far, flattened in order."""
        return tuple(call for turn in self.tool_turns for call in turn)

    @property
    def last_user_text(self) -> str | None:
        """The text of the newest user message, if any."""
        for message in reversed(self.messages):
            if message.role == "user":
                return message.text
        return None


@runtime_checkable
class Model(Protocol):
    """Anything with a `decide` method is a model; it is called once per run turn.

    `decide` runs in a worker thread, so it may block briefly; it must not share unguarded state
    between concurrent runs. An exception fails the run with a ``server_error``.
    """

    def decide(self, context: TurnContext) -> Turn: ...


@dataclass(frozen=True, slots=True)
class _FunctionModel:
    function: Callable[[TurnContext], Turn]

    def decide(self, context: TurnContext) -> Turn:
        return self.function(context)


def as_model(model: Model | Callable[[TurnContext], Turn]) -> Model:
    """Accept a model object, or a plain function of a `TurnContext`, as a `Model`."""
    if isinstance(model, Model):
        return model
    if callable(model):
        return _FunctionModel(model)
    raise TypeError(f"a model needs a decide(context) method, got {type(model).__name__}")


class ScriptedModel:
    """Answer each turn with the next scripted `Turn`; remember the contexts seen."""

    def __init__(self, turns: Iterable[Turn]) -> None:
        self._turns: tuple[Turn, ...] = tuple(turns)
        self._next = 0
        self._contexts: list[TurnContext] = []
        self._lock = threading.Lock()

    def decide(self, context: TurnContext) -> Turn:
        with self._lock:
            self._contexts.append(context)
            if self._next >= len(self._turns):
                raise ScriptExhaustedError(len(self._turns))
            turn = self._turns[self._next]
            self._next += 1
            return turn

    @property
    def used(self) -> int:
        """How many turns were handed out."""
        with self._lock:
            return self._next

    @property
    def remaining(self) -> int:
        """How many turns are left."""
        with self._lock:
            return len(self._turns) - self._next

    @property
    def contexts(self) -> tuple[TurnContext, ...]:
        """Every context `decide` was called with, in order (exhausted calls included)."""
        with self._lock:
            return tuple(self._contexts)

    def __repr__(self) -> str:
        return f"ScriptedModel(used={self.used}, remaining={self.remaining})"
