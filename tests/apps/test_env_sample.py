"""`.env_sample` is what the README documents: known settings only, and the defaults.

After `cp .env_sample .env` a newcomer must get exactly the documented default behaviour.
"""

from __future__ import annotations

import re
from pathlib import Path

from dotenv import dotenv_values

import conversation
from conversation.settings import Settings, load_settings
from tools.stocks import QUOTE_SOURCE_ENV

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / ".env_sample"


def sample() -> dict[str, str]:
    return {k: v or "" for k, v in dotenv_values(SAMPLE).items()}


def known_settings() -> set[str]:
    """Every variable the toolkit reads: the settings' fields, and the quote source."""
    fields = {(f.alias or name).upper() for name, f in Settings.model_fields.items()}
    return fields | {QUOTE_SOURCE_ENV}


def readme_variables() -> set[str]:
    section = (ROOT / "README.md").read_text().split("## Configuration", 1)[1].split("\n## ")[0]
    return set(re.findall(r"^\| `([A-Z_]+)` \|", section, re.MULTILINE))


def test_every_sample_variable_is_a_known_setting() -> None:
    assert set(sample()) - known_settings() == set()


def test_the_sample_lists_what_the_readme_documents() -> None:
    assert readme_variables(), "the README's Configuration table was not found"
    assert set(sample()) == readme_variables()


def test_the_sample_values_are_the_defaults() -> None:
    """Copied to `.env`, the sample changes nothing: same settings as no `.env` at all."""
    defaults = load_settings({}, dotenv_path=None)
    from_sample = load_settings({}, dotenv_path=SAMPLE)
    # The demo id is what an unset ASSISTANT_ID means offline; every other field is equal.
    assert from_sample.assistant_id == conversation.DEMO_ASSISTANT_ID
    assert defaults.assistant_id in (None, conversation.DEMO_ASSISTANT_ID)
    assert from_sample.model_dump(exclude={"assistant_id"}) == defaults.model_dump(
        exclude={"assistant_id"}
    )
    assert sample()[QUOTE_SOURCE_ENV] == ""  # the default depends on being offline


def test_the_sample_names_no_retired_protocol_by_default() -> None:
    # Empty: `responses` for OpenAI and offline, `auto` (probed) for a server named by URL.
    assert sample()["ASSISTANT_BACKEND"] == ""
