"""Errors of the mediator package, and the root of every error the toolkit raises.

    ToolkitError                    catch this to catch anything the toolkit raises on purpose
    ├── conversation.SettingsError  a setting has a value the toolkit cannot use
    ├── conversation.ConversationBusyError  a message sent while the last is being answered
    ├── proxies.errors.BackendError the remote API call did not succeed (tree there)
    ├── persistence.PersistenceError  the database could not be used (tree there)
    └── MediatorError               anything this package raises on purpose
    ├── InvalidTransitionError      the script forbids `trigger` in `state` (MediatorStateMachine)
    ├── ApprovalNotPendingError     approve/reject named a call that waits for no decision
    └── ExchangeError               an exchange ended without a reply (raised on the user side)
        ├── ExchangeFailedError     run failed / expired / incomplete, or an unrecoverable API error
        ├── ExchangeTimeoutError    the exchange's deadline passed
        ├── ExchangeCancelledError  the exchange was cancelled
        └── ExchangeSuspendedError  the exchange waits for approval and was left for later

Other misuse of a mediator (routing before `attach`, rebinding a conversation to another id)
raises a plain `MediatorError`.
"""

from __future__ import annotations

from mediator.script import State, Trigger, allowed_triggers

__all__ = [
    "ToolkitError",
    "ApprovalNotPendingError",
    "ExchangeCancelledError",
    "ExchangeError",
    "ExchangeFailedError",
    "ExchangeSuspendedError",
    "ExchangeTimeoutError",
    "InvalidTransitionError",
    "MediatorError",
]


class ToolkitError(Exception):
    """The root of every error assistant-mediator raises on purpose (see the tree above)."""


class MediatorError(ToolkitError):
    """Base class of every error the mediator package raises."""


class ApprovalNotPendingError(MediatorError, LookupError):
    """`approve` or `reject` named a tool call that is not waiting for a decision."""


class InvalidTransitionError(MediatorError):
    """The interaction script does not allow `trigger` in `state`.

    Attributes:
        state: the state the mediator was (and still is) in.
        trigger: the refused trigger.
    """

    def __init__(self, state: State, trigger: Trigger) -> None:
        allowed = ", ".join(sorted(allowed_triggers(state))) or "none"
        super().__init__(
            f"trigger {trigger.value!r} is not allowed in state {state.value!r} "
            f"(allowed there: {allowed})"
        )
        self.state = state
        self.trigger = trigger


class ExchangeError(MediatorError):
    """An exchange (one user message and the run answering it) ended without a reply.

    Attributes:
        message: what went wrong, fit to show a person (no secrets, no payloads).
        run_id: the run (or exchange) id, when one existed.
        status: the run's last known status (``failed``, ``expired``, ``incomplete``...), if any.
        code: a machine-readable code (the API's `last_error.code`, ``deadline_exceeded``...).
    """

    def __init__(
        self,
        message: str,
        *,
        run_id: str | None = None,
        status: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.run_id = run_id
        self.status = status
        self.code = code

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, run_id={self.run_id!r}, "
            f"status={self.status!r}, code={self.code!r})"
        )


class ExchangeFailedError(ExchangeError):
    """The run failed, expired or came back incomplete, or the API failed beyond retrying."""


class ExchangeTimeoutError(ExchangeError):
    """The exchange's deadline passed before the assistant answered."""


class ExchangeCancelledError(ExchangeError):
    """The exchange was cancelled (by the user, by shutdown, or remotely)."""


class ExchangeSuspendedError(ExchangeError):
    """The exchange waits for a person's approval and was left for later (`suspend`): it has
    not ended; `conversation.resume_conversation` picks it up, and the answers continue it."""
