"""Choosing a mediator by name, as the `MEDIATOR_TYPE` setting does."""

from __future__ import annotations

from typing import Final, Literal, TypeAlias

from mediator.base import Mediator
from mediator.basic import MediatorBasic
from mediator.state_machine import MediatorStateMachine

__all__ = ["MEDIATOR_KINDS", "MediatorKind", "create_mediator", "mediator_factory"]

MediatorKind: TypeAlias = Literal["basic", "stateMachine"]

_CLASSES: Final[tuple[type[Mediator], ...]] = (MediatorBasic, MediatorStateMachine)

MEDIATOR_KINDS: Final[tuple[str, ...]] = tuple(cls.kind for cls in _CLASSES)
"""The accepted `MEDIATOR_TYPE` values (matched case-insensitively)."""


def mediator_factory(kind: str) -> type[Mediator]:
    """The mediator class for `kind` (``basic`` or ``stateMachine``, any case).

    Raises `ValueError` naming `MEDIATOR_TYPE` and the allowed values for anything else.
    """
    wanted = kind.strip().lower()
    for cls in _CLASSES:
        if cls.kind.lower() == wanted:
            return cls
    allowed = ", ".join(repr(k) for k in MEDIATOR_KINDS)
    raise ValueError(f"MEDIATOR_TYPE must be one of {allowed} (any case), got {kind!r}")


def create_mediator(kind: MediatorKind | str, *, conversation_id: str | None = None) -> Mediator:
    """A new mediator of `kind` (see `mediator_factory`), optionally bound to a conversation."""
    return mediator_factory(kind)(conversation_id=conversation_id)
