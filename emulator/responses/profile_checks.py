"""What a Responses server that is not OpenAI refuses (`emulator.common.profiles`).

The answers are those of the servers the profiles stand for: background mode refused with a
400 (vLLM), Conversations unknown, and `previous_response_id` refused where responses are not
kept (a server without a store cannot chain).
"""

from __future__ import annotations

from ..common.errors import bad_request
from ..common.profiles import ServerProfile
from .schemas import ResponseCreate

__all__ = ["check_profile"]


def check_profile(profile: ServerProfile, body: ResponseCreate) -> None:
    """Refuse, before anything changes, what `profile`'s server does not do."""
    if body.background and not profile.background:
        raise bad_request(
            f"Background mode is not supported by this server (profile {profile.name}).",
            param="background",
        )
    if body.conversation is not None and not profile.conversations:
        raise bad_request("Conversations are not supported by this server.", param="conversation")
    if body.previous_response_id is not None and not profile.keeps_responses:
        raise bad_request(
            "previous_response_id is not supported: this server keeps no responses "
            "(send the conversation as input items).",
            param="previous_response_id",
            code="previous_response_not_found",
        )
