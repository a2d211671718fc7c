"""The tools' section of the settings: which quote source the demo uses, how long a tool may run.

Every package reads its own section from the one source the whole toolkit shares (the process
environment, then `.env`, as `pydantic-settings` does it); `conversation.Settings` combines the
sections for the apps. Read when asked for, never at import time.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

__all__ = [
    "QUOTE_SOURCES",
    "QuoteSource",
    "SettingsSection",
    "ToolSettings",
    "blank_is_unset",
    "given_values_only",
]

QuoteSource = Literal["yahoo", "simulated"]
QUOTE_SOURCES: tuple[QuoteSource, ...] = ("yahoo", "simulated")

#: Shared by every section: unknown variables are someone else's, `.env` sits beside the app.
SECTION_CONFIG = SettingsConfigDict(
    frozen=True, extra="ignore", env_file=".env", populate_by_name=True
)


def blank_is_unset(value: object) -> object:
    """`NAME=` (an empty value, as `.env_sample` has) means "not set", and spaces do not count."""
    if isinstance(value, str):
        return value.strip() or None
    return value


_GIVEN_ONLY: ContextVar[bool] = ContextVar("settings_given_only", default=False)


@contextlib.contextmanager
def given_values_only() -> Iterator[None]:
    """Within the block, settings classes validate only the values passed to them: no
    environment, no `.env` (for callers that merged their own sources, and for tests)."""
    token = _GIVEN_ONLY.set(True)
    try:
        yield
    finally:
        _GIVEN_ONLY.reset(token)


class SettingsSection(BaseSettings):
    """A package's section of the settings (the environment, then `.env`)."""

    model_config = SECTION_CONFIG

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        if _GIVEN_ONLY.get():
            return (init_settings,)
        return (init_settings, env_settings, dotenv_settings, file_secret_settings)


_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def tool_names(value: object) -> object:
    """``APPROVE_TOOLS``: tool names separated by commas (spaces allowed), or ``*`` for all."""
    value = blank_is_unset(value)
    if value is None:
        return ()
    if isinstance(value, str):
        value = [name.strip() for name in value.split(",") if name.strip()]
    if isinstance(value, list | tuple | set | frozenset):
        bad = [name for name in value if name != "*" and not _TOOL_NAME.match(str(name))]
        if bad:
            raise ValueError(
                f"must be tool names separated by commas, or * for every tool; {bad[0]!r} is not"
            )
        return tuple(value)
    return value


class ToolSettings(SettingsSection):
    """``QUOTE_SOURCE``, ``TOOL_TIMEOUT_S`` and ``APPROVE_TOOLS``."""

    #: None lets the caller decide: the offline demo uses simulated quotes, otherwise Yahoo.
    quote_source: QuoteSource | None = Field(default=None, alias="QUOTE_SOURCE")
    tool_timeout_s: float = Field(default=60.0, gt=0, alias="TOOL_TIMEOUT_S")
    #: Tools whose calls wait for a person's approval, whatever the tool says (``*``: all).
    approve_tools: Annotated[tuple[str, ...], NoDecode] = Field(default=(), alias="APPROVE_TOOLS")

    @field_validator("approve_tools", mode="before")
    @classmethod
    def _tool_names(cls, value: object) -> object:
        return tool_names(value)

    @field_validator("quote_source", mode="before")
    @classmethod
    def _known_source(cls, value: object) -> object:
        value = blank_is_unset(value)
        if isinstance(value, str):
            value = value.lower()
            if value not in QUOTE_SOURCES:
                allowed = " or ".join(repr(source) for source in QUOTE_SOURCES)
                raise ValueError(f"must be {allowed}")
        return value
