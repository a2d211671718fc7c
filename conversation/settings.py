"""The toolkit's settings: one typed source, read when asked for, never at import time.

Each package declares its own section (`tools.settings.ToolSettings`,
`persistence.settings.PersistenceSettings`); `Settings` combines them with the connection
settings, so every app and package reads the same values from the same place: the process
environment first, then `.env` (pydantic-settings' order). `.env` is read, never copied into
`os.environ`. A value the toolkit cannot use is a `SettingsError` naming the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values
from pydantic import Field, SecretStr, ValidationError, field_validator

from conversation.pricing import UsageSettings
from mediator.errors import ToolkitError
from persistence.settings import PersistenceSettings
from tools.settings import QuoteSource, ToolSettings, blank_is_unset, given_values_only

BackendName = Literal["responses", "assistants", "offline", "auto", "responses-stateless", "chat"]
Protocol = Literal["responses", "assistants", "auto", "responses-stateless", "chat"]
DeliveryName = Literal["stream", "poll"]
MediatorName = Literal["basic", "stateMachine"]

__all__ = ["Settings", "SettingsError", "load_settings"]


class SettingsError(ToolkitError, ValueError):
    """A setting has a value the toolkit cannot use; the message names the variable."""


class Settings(ToolSettings, PersistenceSettings, UsageSettings):
    """Everything the wiring needs; each field maps to one environment variable.

    `Settings()` reads the environment and `.env` like any pydantic-settings class;
    `load_settings()` does the same with errors worded for people.
    """

    openai_api_key: SecretStr | None = Field(default=None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    assistant_id: str | None = Field(default=None, alias="ASSISTANT_ID")
    # None: `auto` when OPENAI_BASE_URL names a server, else `responses` (see `backend`).
    assistant_backend: BackendName | None = Field(default=None, alias="ASSISTANT_BACKEND")
    delivery: DeliveryName = Field(default="stream", alias="DELIVERY")
    mediator_type: MediatorName = Field(default="stateMachine", alias="MEDIATOR_TYPE")
    exchange_deadline_s: float = Field(default=300.0, gt=0, alias="EXCHANGE_DEADLINE_S")
    # What the stateless backends replay at most per request (their context budget).
    max_context_tokens: int = Field(default=16_000, ge=256, alias="MAX_CONTEXT_TOKENS")
    approval_timeout_s: float = Field(default=300.0, gt=0, alias="APPROVAL_TIMEOUT_S")
    # Exchanges one event loop works on at once; more wait their turn, first come first
    # served. 0 adapts the limit to the loop's responsiveness (proxies/admission.py).
    max_exchanges_in_progress: int = Field(default=0, ge=0, alias="MAX_EXCHANGES_IN_PROGRESS")

    @field_validator(
        "openai_api_key", "openai_base_url", "assistant_id", "assistant_backend", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return blank_is_unset(value)

    @field_validator("mediator_type", mode="before")
    @classmethod
    def _mediator_case(cls, value: object) -> object:
        if isinstance(value, str):
            return {"basic": "basic", "statemachine": "stateMachine"}.get(value.lower(), value)
        return value

    @field_validator("assistant_backend", "delivery", mode="before")
    @classmethod
    def _backend_case(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @property
    def backend(self) -> BackendName:
        """`ASSISTANT_BACKEND` as given; unset, `auto` for a server named by OPENAI_BASE_URL
        (it is probed for what it offers) and `responses` for OpenAI itself and offline."""
        if self.assistant_backend is not None:
            return self.assistant_backend
        return "auto" if self.openai_base_url is not None else "responses"

    @property
    def protocol(self) -> Protocol:
        """The backend to build; `offline` means the emulator's Responses side."""
        backend = self.backend
        return "responses" if backend == "offline" else backend

    @property
    def offline(self) -> bool:
        """True when the embedded emulator serves the conversation: asked for, or neither a
        key nor a server given (`OPENAI_BASE_URL` alone points at a local server)."""
        return self.assistant_backend == "offline" or (
            self.openai_api_key is None and self.openai_base_url is None
        )

    @property
    def keyless(self) -> bool:
        """True when no real key is in use: the emulator, or a local server without one."""
        return self.offline or self.openai_api_key is None

    @property
    def quotes(self) -> QuoteSource:
        """The quote source to use: as set, else Yahoo only when talking to OpenAI itself with
        a key (a local or offline setup usually has no market data at hand: simulated)."""
        talking_to_openai = self.openai_api_key is not None and self.openai_base_url is None
        return self.quote_source or (
            "yahoo" if talking_to_openai and not self.offline else "simulated"
        )

    def __repr__(self) -> str:  # SecretStr already hides the key; keep the repr short too
        return (
            f"Settings(backend={self.backend!r}, delivery={self.delivery!r}, "
            f"offline={self.offline}, "
            f"assistant_id={self.assistant_id!r}, mediator_type={self.mediator_type!r})"
        )

    __str__ = __repr__


_FIELDS_BY_ENV = {(field.alias or name): name for name, field in Settings.model_fields.items()}


def _shown(name: str, value: object) -> str:
    """What was given, fit to print: never the key, never a database password."""
    if name == "DATABASE_URL" and isinstance(value, str):
        return f" (got {re.sub(r'//[^@/]*@', '//***@', value)!r})"
    return f" (got {value!r})"


def _describe(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else "settings"
        message = err["msg"].removeprefix("Value error, ")
        shown = "" if name == "OPENAI_API_KEY" else _shown(name, err.get("input"))
        problems.append(f"{name}: {message}{shown}")
    return "; ".join(problems)


def load_settings(
    environ: Mapping[str, str] | None = None, *, dotenv_path: str | Path | None = ".env"
) -> Settings:
    """Read settings from `.env` (if present) overlaid with `environ` (default `os.environ`).

    Raises `SettingsError` with one line naming each variable that has an unusable value.
    """
    values: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        values.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    source = os.environ if environ is None else environ
    values.update({k: v for k, v in source.items() if k in _FIELDS_BY_ENV})
    relevant = {k: v for k, v in values.items() if k in _FIELDS_BY_ENV}
    try:
        with given_values_only():  # these values are already the merged sources
            return Settings.model_validate(relevant)
    except ValidationError as exc:
        raise SettingsError(f"invalid configuration: {_describe(exc)}") from None
