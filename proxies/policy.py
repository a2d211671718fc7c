"""How long an exchange may take and how often the Assistant Proxy looks at a run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ExchangePolicy:
    """Deadlines and polling cadence for one exchange (one user message, one reply).

    Polling honours the server's `openai-poll-after-ms` hint when it sends one. Without one,
    it times its looks by the lengths of the assistant's earlier turns (`proxies.polling`),
    steps growing by `poll_factor` up to `poll_max_s`; before any turn was measured it starts
    at `poll_initial_s` and grows by `poll_factor` up to `poll_max_s`, so a quick run is seen
    quickly and a slow one does not flood the API.
    """

    #: Overall limit for one exchange, tool execution included.
    deadline_s: float = 300.0
    poll_initial_s: float = 0.1
    poll_max_s: float = 2.0
    poll_factor: float = 1.5
    #: Limit for one tool call; a slow tool becomes an error output, not a stuck run.
    tool_timeout_s: float = 60.0
    #: How long to wait for the remote side to confirm a cancellation.
    cancel_timeout_s: float = 10.0
    #: How long a person may take to approve tool calls; the exchange deadline does not run
    #: meanwhile. Unanswered calls are then rejected, with that reason.
    approval_timeout_s: float = 300.0

    def __post_init__(self) -> None:
        for name in (
            "deadline_s",
            "poll_initial_s",
            "poll_max_s",
            "tool_timeout_s",
            "approval_timeout_s",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(
                    f"ExchangePolicy.{name} must be positive, got {getattr(self, name)!r}"
                )
        if self.cancel_timeout_s < 0:
            raise ValueError("ExchangePolicy.cancel_timeout_s must not be negative")
        if self.poll_factor < 1:
            raise ValueError("ExchangePolicy.poll_factor must be at least 1")
        if self.poll_max_s < self.poll_initial_s:
            raise ValueError("ExchangePolicy.poll_max_s must be at least poll_initial_s")

    def next_poll_delay(self, previous: float | None, server_hint: float | None) -> float:
        """The wait before the next status check."""
        if server_hint is not None:
            return min(server_hint, self.poll_max_s)
        if previous is None:
            return self.poll_initial_s
        return min(previous * self.poll_factor, self.poll_max_s)
