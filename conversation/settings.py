"""Settings from the environment and `.env`, read when asked for, never at import time.

The process environment wins over `.env`, so `ASSISTANT_ID=... python terminal_chat.py`
works as people expect. `.env` is read without being copied into `os.environ`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

BackendName = Literal["responses", "assistants", "offline"]
DeliveryName = Literal["stream", "poll"]
MediatorName = Literal["basic", "stateMachine"]


class SettingsError(ValueError):
    """A setting has a value the toolkit cannot use; the message names the variable."""


class Settings(BaseModel):
    """Everything the wiring needs; each field maps to one environment variable."""

    model_config = ConfigDict(frozen=True)

    openai_api_key: SecretStr | None = Field(default=None, alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, alias="OPENAI_BASE_URL")
    assistant_id: str | None = Field(default=None, alias="ASSISTANT_ID")
    assistant_backend: BackendName = Field(default="responses", alias="ASSISTANT_BACKEND")
    delivery: DeliveryName = Field(default="stream", alias="DELIVERY")
    mediator_type: MediatorName = Field(default="stateMachine", alias="MEDIATOR_TYPE")
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    record_events: bool = Field(default=True, alias="RECORD_EVENTS")
    exchange_deadline_s: float = Field(default=300.0, gt=0, alias="EXCHANGE_DEADLINE_S")
    tool_timeout_s: float = Field(default=60.0, gt=0, alias="TOOL_TIMEOUT_S")

    @field_validator(
        "openai_api_key", "openai_base_url", "assistant_id", "database_url", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

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
    def protocol(self) -> Literal["responses", "assistants"]:
        """The wire protocol to speak; `offline` means the emulator's Responses side."""
        return "assistants" if self.assistant_backend == "assistants" else "responses"

    @property
    def offline(self) -> bool:
        """True when the embedded emulator serves the conversation: no key, or asked for."""
        return self.assistant_backend == "offline" or self.openai_api_key is None

    def __repr__(self) -> str:  # SecretStr already hides the key; keep the repr short too
        return (
            f"Settings(backend={self.assistant_backend!r}, delivery={self.delivery!r}, "
            f"offline={self.offline}, "
            f"assistant_id={self.assistant_id!r}, mediator_type={self.mediator_type!r})"
        )


_FIELDS_BY_ENV = {(field.alias or name): name for name, field in Settings.model_fields.items()}


def load_settings(
    environ: Mapping[str, str] | None = None, *, dotenv_path: str | Path | None = ".env"
) -> Settings:
    """Read settings from `.env` (if present) overlaid with `environ` (default `os.environ`)."""
    values: dict[str, str] = {}
    if dotenv_path is not None and Path(dotenv_path).is_file():
        values.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    source = os.environ if environ is None else environ
    values.update({k: v for k, v in source.items() if k in _FIELDS_BY_ENV})
    relevant = {k: v for k, v in values.items() if k in _FIELDS_BY_ENV}
    try:
        return Settings.model_validate(relevant)
    except ValidationError as exc:
        problems = "; ".join(
            f"{err['loc'][0]}: {err['msg']} (got {err.get('input')!r})"
            if err["loc"] and err["loc"][0] != "OPENAI_API_KEY"
            else f"{err['loc'][0] if err['loc'] else 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid configuration: {problems}") from None
