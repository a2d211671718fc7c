"""What tokens cost: the maintained price table of `genai-prices`, keyed by model name, with
overrides from the settings for private deployments.

A price is never guessed. A model the table does not know (the offline emulator's
``offline-demo``, a self-hosted model), or a server whose provider the table cannot tell,
has no cost: callers show its tokens and "no price known".

Which provider's prices apply:

- ``PRICE_PROVIDER`` (a `genai-prices` provider id: ``openai``, ``azure``, ``groq`` ...) when
  set, for a gateway at an address of its own that serves a known provider's models;
- else OpenAI when no ``OPENAI_BASE_URL`` is set (the SDK's default server), the provider
  that serves ``OPENAI_BASE_URL`` when the table knows its address, and none otherwise: a
  local server, and the embedded emulator, which costs nothing and imitates no one's prices.

``PRICE_OVERRIDES`` sets the price of a model by name, in US dollars per million tokens,
before any table is asked: ``{"my-model": {"input": 0.5, "cached_input": 0.25, "output":
1.5}}`` (``cached_input`` defaults to ``input``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field, field_validator

from mediator.usage import Usage
from tools.settings import SettingsSection, blank_is_unset

__all__ = ["ModelPrice", "Prices", "UsageSettings"]

logger = logging.getLogger(__name__)

_MILLION = Decimal(1_000_000)


class ModelPrice(BaseModel, frozen=True):
    """One model's price, US dollars per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    cached_input: float | None = Field(default=None, ge=0)

    def cost(self, usage: Usage) -> float:
        cached = self.input if self.cached_input is None else self.cached_input
        uncached = usage.input_tokens - usage.cached_input_tokens
        total = (
            Decimal(str(self.input)) * uncached
            + Decimal(str(cached)) * usage.cached_input_tokens
            + Decimal(str(self.output)) * usage.output_tokens
        )
        return float(total / _MILLION)


class UsageSettings(SettingsSection):
    """``SHOW_USAGE``, ``PRICE_PROVIDER`` and ``PRICE_OVERRIDES``."""

    show_usage: bool = Field(default=False, alias="SHOW_USAGE")
    price_provider: str | None = Field(default=None, alias="PRICE_PROVIDER")
    price_overrides: dict[str, ModelPrice] = Field(default_factory=dict, alias="PRICE_OVERRIDES")

    @field_validator("price_provider", mode="before")
    @classmethod
    def _no_provider_when_blank(cls, value: object) -> object:  # (a name of its own: the
        # subclass `Settings` has a `_blank_is_unset`, which would replace this one)
        return blank_is_unset(value)

    @field_validator("price_overrides", mode="before")
    @classmethod
    def _json_object(cls, value: object) -> object:
        value = blank_is_unset(value)
        if value is None:
            return {}
        if isinstance(value, str):  # as the environment and `.env` give it
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError(
                    'must be a JSON object like {"model": {"input": 0.5, "output": 1.5}} '
                    "(US dollars per million tokens)"
                ) from None
        return value


@dataclass(frozen=True)
class Prices:
    """Prices tokens: `Prices(...).cost(model, usage)` is US dollars, or None when unknown.

    `provider_id` or `provider_url` chooses the table's provider (see the module docstring);
    with neither, only `overrides` are known.
    """

    overrides: dict[str, ModelPrice]
    provider_id: str | None = None
    provider_url: str | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> Prices:
        """The prices for `conversation.Settings` (its server, provider and overrides)."""
        provider_id, provider_url = settings.price_provider, None
        if provider_id is None and not settings.offline:
            if settings.openai_base_url is None:
                provider_id = "openai"
            else:
                provider_url = settings.openai_base_url
        return cls(dict(settings.price_overrides), provider_id, provider_url)

    def cost(self, model: str, usage: Usage, at: datetime | None = None) -> float | None:
        """What `usage` on `model` cost at `at` (now by default); None when no price is known."""
        override = self.overrides.get(model)
        if override is not None:
            return override.cost(usage)
        if self.provider_id is None and self.provider_url is None:
            return None
        return _table_cost(model, usage, self.provider_id, self.provider_url, at)


def _table_cost(
    model: str,
    usage: Usage,
    provider_id: str | None,
    provider_url: str | None,
    at: datetime | None,
) -> float | None:
    # Imported when first needed: the table is large, and most processes price nothing.
    from genai_prices import Usage as TableUsage
    from genai_prices import calc_price

    counted = TableUsage(
        input_tokens=usage.input_tokens,
        cache_read_tokens=usage.cached_input_tokens,
        output_tokens=usage.output_tokens,
    )
    try:
        if provider_id is not None:
            price = calc_price(counted, model, provider_id=provider_id, genai_request_timestamp=at)
        else:
            price = calc_price(
                counted, model, provider_api_url=provider_url, genai_request_timestamp=at
            )
    except LookupError:
        return None  # the table does not know this model (or provider): no price
    return float(price.total_price)
