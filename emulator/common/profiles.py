"""Server profiles: the emulator behaving like the servers people run (issue 11).

- `openai` (the default): OpenAI. Assistants, Conversations, Responses (background, kept),
  Chat Completions.
- `stateless`: Ollama, vLLM without its store, llama.cpp. `POST /responses` only: background
  answers 400, `store` is silently off, `previous_response_id` is refused; Chat Completions.
- `chained`: LM Studio, SGLang, vLLM with its store. Responses kept (`previous_response_id`,
  `GET /responses/{id}`), no background, no Conversations; Chat Completions.
- `chat`: gateways and older servers. Chat Completions only.

Every profile runs the same models (scripted or the demo) with the same faults. A route a
profile does not serve answers 404, as the real servers do.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PROFILES", "ServerProfile", "profile_named"]


@dataclass(frozen=True, slots=True)
class ServerProfile:
    """What one kind of server serves."""

    name: str
    assistants: bool = False
    conversations: bool = False
    responses: bool = False
    background: bool = False
    keeps_responses: bool = False
    chat: bool = True


PROFILES: dict[str, ServerProfile] = {
    "openai": ServerProfile(
        "openai",
        assistants=True,
        conversations=True,
        responses=True,
        background=True,
        keeps_responses=True,
    ),
    "stateless": ServerProfile("stateless", responses=True),
    "chained": ServerProfile("chained", responses=True, keeps_responses=True),
    "chat": ServerProfile("chat"),
}


def profile_named(name: str) -> ServerProfile:
    """The profile called `name`; a `ValueError` naming the known ones otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(PROFILES)
        raise ValueError(f"unknown server profile {name!r}: expected one of {known}") from None
