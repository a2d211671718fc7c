"""Issue 13: usage normalised from every shape the SDK reports, added up, and priced from the
maintained table (a known model as the table prices it, an unknown one not at all)."""

from __future__ import annotations

import pytest
from genai_prices import Usage as TableUsage
from genai_prices import calc_price
from openai.types.beta.threads.run import Usage as RunUsage
from openai.types.completion_usage import (
    CompletionTokensDetails,
    CompletionUsage,
    PromptTokensDetails,
)
from openai.types.responses import ResponseUsage
from openai.types.responses.response_usage import InputTokensDetails, OutputTokensDetails

from conversation.pricing import ModelPrice, Prices
from conversation.settings import SettingsError, load_settings
from mediator.usage import Spend, Usage, format_usd
from proxies.backends.usage import usage_from_sdk


def test_every_sdk_shape_becomes_the_same_usage() -> None:
    responses = ResponseUsage(
        input_tokens=1200,
        input_tokens_details=InputTokensDetails(cached_tokens=1024, cache_write_tokens=0),
        output_tokens=300,
        output_tokens_details=OutputTokensDetails(reasoning_tokens=120),
        total_tokens=1500,
    )
    chat = CompletionUsage(
        prompt_tokens=1200,
        completion_tokens=300,
        total_tokens=1500,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=1024),
        completion_tokens_details=CompletionTokensDetails(reasoning_tokens=120),
    )
    expected = Usage(1200, 1024, 300, 120)
    assert usage_from_sdk(responses) == usage_from_sdk(chat) == expected
    assert usage_from_sdk(responses.model_dump()) == expected  # a raw JSON body
    run = RunUsage(prompt_tokens=50, completion_tokens=7, total_tokens=57)  # no details
    assert usage_from_sdk(run) == Usage(50, 0, 7, 0)
    assert usage_from_sdk(None) is None


def test_a_server_that_reports_nonsense_never_breaks_an_exchange() -> None:
    odd = {
        "input_tokens": -5,
        "output_tokens": "many",
        "input_tokens_details": {"cached_tokens": 9},
    }
    assert usage_from_sdk(odd) == Usage(0, 0, 0, 0)  # parts never exceed their whole
    capped = {"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 50}}
    assert usage_from_sdk(capped) == Usage(10, 10, 0, 0)
    with pytest.raises(ValueError, match="input_tokens must be a non-negative integer"):
        Usage(input_tokens=-1)


def test_usage_adds_subtracts_and_reads_well() -> None:
    total = Usage(100, 20, 10, 0) + Usage(50, 0, 5, 2)
    assert total == Usage(150, 20, 15, 2)
    assert total.total_tokens == 165
    assert total.since(Usage(100, 20, 10, 0)) == Usage(50, 0, 5, 2)
    assert str(total) == "150 in (20 cached) / 15 out (2 reasoning)"
    assert [format_usd(x) for x in (0, 0.0001234, 0.01, 12.345)] == [
        "$0.00",
        "$0.000123",
        "$0.01",
        "$12.35",
    ]


def test_spend_never_shows_a_partial_cost_as_complete() -> None:
    assert Spend().plus(Usage(10, 0, 5), None).cost_text == "no price known"
    priced = Spend().plus(Usage(10, 0, 5), 0.002)
    assert priced.cost_text == "$0.00200"
    assert priced.plus(Usage(1, 0, 1), None).cost_text == "≥ $0.00200 (part has no price known)"


def test_a_known_model_costs_what_the_price_table_says() -> None:
    usage = Usage(input_tokens=12_345, cached_input_tokens=2_048, output_tokens=678)
    table = calc_price(
        TableUsage(input_tokens=12_345, cache_read_tokens=2_048, output_tokens=678),
        "gpt-4o-mini",
        provider_id="openai",
    ).total_price
    cost = Prices({}, provider_id="openai").cost("gpt-4o-mini", usage)
    assert cost is not None
    assert cost == pytest.approx(float(table), rel=1e-12)
    assert cost > 0


def test_an_unknown_model_or_an_unknown_server_has_no_price() -> None:
    usage = Usage(1000, 0, 100)
    assert Prices({}, provider_id="openai").cost("offline-demo", usage) is None
    assert Prices({}, provider_url="http://127.0.0.1:8000/v1").cost("gpt-4o-mini", usage) is None
    assert Prices({}).cost("gpt-4o-mini", usage) is None  # no provider: only overrides


def test_prices_follow_the_settings() -> None:
    offline = Prices.from_settings(load_settings({}, dotenv_path=None))
    assert offline.cost("gpt-4o-mini", Usage(1000, 0, 100)) is None  # the emulator is free
    openai = Prices.from_settings(load_settings({"OPENAI_API_KEY": "sk-x"}, dotenv_path=None))
    assert openai.provider_id == "openai"
    overridden = load_settings(
        {"PRICE_OVERRIDES": '{"my-model": {"input": 1.5, "cached_input": 0.5, "output": 6}}'},
        dotenv_path=None,
    )
    cost = Prices.from_settings(overridden).cost("my-model", Usage(2_000_000, 1_000_000, 1_000_000))
    assert cost == pytest.approx(1.5 + 0.5 + 6)
    assert ModelPrice(input=1, output=2).cost(Usage(1_000_000, 500_000, 0)) == pytest.approx(1)
    with pytest.raises(SettingsError, match="PRICE_OVERRIDES: must be a JSON object"):
        load_settings({"PRICE_OVERRIDES": "cheap"}, dotenv_path=None)
