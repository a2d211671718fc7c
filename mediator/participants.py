"""The two participants a mediator routes between.

The User Proxy and the Assistant Proxy never talk to each other: each talks to the mediator,
and the mediator calls the other side through these protocols. Any object with these methods
fits (structural typing); no base class is needed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Protocol, runtime_checkable

from mediator.approvals import ApprovalDecision, ApprovalRequest
from mediator.errors import ExchangeError
from tools.types import ToolCall, ToolResult

__all__ = ["ApprovingUserSide", "AssistantSide", "SuspendableAssistantSide", "UserSide"]


@runtime_checkable
class UserSide(Protocol):
    """What the mediator needs from the User Proxy."""

    async def execute_tools(
        self,
        calls: Sequence[ToolCall],
        decisions: Mapping[str, ApprovalDecision] | None = None,
    ) -> Sequence[ToolResult]:
        """Run the requested function calls and return one result per call.

        With `decisions` (the answers for calls that needed approval), a rejected call is not
        run: its result tells the model the user declined. A tool failure belongs in its
        `ToolResult` (``is_error``); an exception raised here propagates unchanged to whoever
        fired `action_required` (the Assistant Proxy).
        """
        ...

    def deliver_reply(self, text: str) -> None:
        """Hand the assistant's reply to whoever awaits it. Must not block."""
        ...

    def deliver_error(self, error: ExchangeError) -> None:
        """Report that the exchange ended without a reply. Must not block."""
        ...


@runtime_checkable
class ApprovingUserSide(UserSide, Protocol):
    """A user side that can hold tool calls for a person's approval (the `UserProxy`).

    A user side without these members never asks: every call runs at once.
    """

    @property
    def approval_timeout_s(self) -> float:
        """How long a person may take to decide before the calls are rejected."""
        ...

    async def approvals_needed(self, calls: Sequence[ToolCall]) -> Sequence[ApprovalRequest]:
        """The calls among `calls` that must wait for a person, each with why (none: all run
        at once). The request is durable (journaled) when this returns."""
        ...


@runtime_checkable
class AssistantSide(Protocol):
    """What the mediator needs from the Assistant Proxy."""

    def start_exchange(self, exchange_id: str, text: str) -> None:
        """Schedule exchange `exchange_id` for the user's message `text` and return at once.

        The work (creating the run, polling or streaming) happens later, in a task the
        Assistant Proxy owns; it reports progress by firing the mediator's triggers.
        """
        ...

    def resume_exchange(self, exchange_id: str, text: str) -> None:
        """Like `start_exchange`, for an exchange an earlier process began and never ended:
        what exists remotely is found and adopted, nothing is sent twice."""
        ...

    async def open_conversation(self) -> str:
        """Create (or confirm) the remote conversation and return its id."""
        ...

    async def check_assistant(self) -> None:
        """Confirm the assistant exists, creating nothing; an error naming it if not."""
        ...

    async def cancel(self) -> None:
        """Stop the running exchange, if any (it ends `cancelled`)."""
        ...

    async def aclose(self) -> None:
        """Stop any running exchange and release connections."""
        ...

    async def list_run_steps(self) -> Sequence[object]:
        """The last run's steps, as the remote API describes them."""
        ...


@runtime_checkable
class SuspendableAssistantSide(AssistantSide, Protocol):
    """An assistant side whose exchange can wait for a person (the `AssistantProxy`): its
    deadline stands still meanwhile, and it can be left for later. Without these, the
    deadline simply runs on and `Mediator.suspend` is refused."""

    def deadline_paused(self) -> AbstractContextManager[None]:
        """Within the block the exchange deadline does not run (a person is deciding)."""
        ...

    async def detach(self) -> None:
        """Stop following the running exchange without ending it: nothing is cancelled
        remotely or journaled as ended, so `resume_exchange` (here or in another process)
        picks it up where it stands."""
        ...
