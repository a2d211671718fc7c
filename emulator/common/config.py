"""Server options, fixed for the life of one server start."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .profiles import ServerProfile, profile_named

__all__ = ["EmulatorConfig", "RunTiming"]


@dataclass(frozen=True, slots=True)
class RunTiming:
    """How long runs and responses take: `queue_delay` in ``queued``, `model_delay` added to
    every turn, `cancel_delay` in ``cancelling``, and `run_ttl` from creation to the deadline."""

    run_ttl: float = 600.0
    queue_delay: float = 0.05
    model_delay: float = 0.0
    cancel_delay: float = 0.05


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Options of an emulator server.

    - `run_ttl`: seconds from a run's creation to its ``expires_at``.
    - `poll_after_ms`: the ``openai-poll-after-ms`` header sent with runs (the SDK's poll pace).
    - `queue_delay`, `model_delay`, `cancel_delay`: seconds spent ``queued``, added to every
      model turn, and spent ``cancelling``.
    - `latency`: seconds added before every HTTP answer (other requests are not held up).
    - `state_file`: JSON file that keeps the state across restarts (saved atomically).
    - `seed_assistants`: create the demo assistant (`DEMO_ASSISTANT_ID`) if it is missing.
    - `max_body_bytes`: the largest request body accepted (larger ones answer 413).
    - `profile`: which server it behaves like (`emulator.common.profiles`).
    - `chat_argument_piece`: characters per streamed Chat Completions tool-call arguments
      delta; `chat_interleave` streams several calls' deltas interleaved by index.
    """

    run_ttl: float = 600.0
    poll_after_ms: int = 100
    queue_delay: float = 0.05
    model_delay: float = 0.0
    cancel_delay: float = 0.05
    latency: float = 0.0
    state_file: Path | None = None
    seed_assistants: bool = True
    save_interval: float = 0.5
    max_body_bytes: int = 16 * 1024 * 1024
    profile: str = "openai"
    chat_argument_piece: int = 8
    chat_interleave: bool = False

    def __post_init__(self) -> None:
        profile_named(self.profile)  # a ValueError naming the known profiles
        if self.chat_argument_piece < 1:
            raise ValueError(f"chat_argument_piece must be >= 1, not {self.chat_argument_piece!r}")
        for name in ("run_ttl", "queue_delay", "model_delay", "cancel_delay", "latency"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, not {getattr(self, name)!r}")
        if self.max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be >= 1, not {self.max_body_bytes!r}")
        if self.poll_after_ms < 1:
            raise ValueError(f"poll_after_ms must be >= 1, not {self.poll_after_ms!r}")

    @property
    def server_profile(self) -> ServerProfile:
        return profile_named(self.profile)

    @property
    def timing(self) -> RunTiming:
        return RunTiming(
            run_ttl=self.run_ttl,
            queue_delay=self.queue_delay,
            model_delay=self.model_delay,
            cancel_delay=self.cancel_delay,
        )
