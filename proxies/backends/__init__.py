"""Backends: one per wire protocol, behind the contract in `base.py`.

Import a concrete backend from its module (`proxies.backends.assistants_api`); this package
itself imports nothing from `openai`, so the contract can be used without the SDK.
"""

from __future__ import annotations

from proxies.backends.base import (
    AssistantDefinition,
    Backend,
    RunError,
    RunSnapshot,
    RunStatus,
    RunStepInfo,
    Usage,
)
from proxies.backends.scripted import ScriptedBackend

__all__ = [
    "AssistantDefinition",
    "Backend",
    "RunError",
    "RunSnapshot",
    "RunStatus",
    "RunStepInfo",
    "ScriptedBackend",
    "Usage",
]
