"""Settings from the environment and `.env`; clear errors; the key never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversation.settings import SettingsError, load_settings


def test_defaults_are_offline_responses_streaming_state_machine(tmp_path: Path) -> None:
    settings = load_settings({}, dotenv_path=tmp_path / ".env")
    assert settings.offline
    assert settings.mediator_type == "stateMachine"
    assert settings.assistant_backend is None
    assert settings.backend == "responses"
    assert settings.protocol == "responses"
    assert settings.max_context_tokens == 16_000
    assert settings.delivery == "stream"


@pytest.mark.parametrize(
    ("backend", "protocol"),
    [
        ("responses", "responses"),
        ("assistants", "assistants"),
        ("offline", "responses"),
        ("auto", "auto"),
        ("responses-stateless", "responses-stateless"),
        ("chat", "chat"),
    ],
)
def test_backend_selects_the_protocol(backend: str, protocol: str) -> None:
    settings = load_settings({"ASSISTANT_BACKEND": backend.upper()}, dotenv_path=None)
    assert settings.protocol == protocol


def test_environment_wins_over_dotenv(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("ASSISTANT_ID=asst_from_file\nMEDIATOR_TYPE=basic\n")
    settings = load_settings({"ASSISTANT_ID": "asst_from_env"}, dotenv_path=env_file)
    assert settings.assistant_id == "asst_from_env"
    assert settings.mediator_type == "basic"


def test_dotenv_is_not_copied_into_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ASSISTANT_ID", raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("ASSISTANT_ID=asst_file_only\n")
    assert load_settings(dotenv_path=env_file).assistant_id == "asst_file_only"
    import os

    assert "ASSISTANT_ID" not in os.environ


@pytest.mark.parametrize(
    "value", ["stateMachine", "statemachine", "STATEMACHINE", "basic", "Basic"]
)
def test_mediator_type_is_case_insensitive(tmp_path: Path, value: str) -> None:
    settings = load_settings({"MEDIATOR_TYPE": value}, dotenv_path=None)
    assert settings.mediator_type in ("basic", "stateMachine")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MEDIATOR_TYPE", "quantum"),
        ("ASSISTANT_BACKEND", "carrier-pigeon"),
        ("DELIVERY", "telepathy"),
        ("EXCHANGE_DEADLINE_S", "-1"),
        ("TOOL_TIMEOUT_S", "soon"),
        ("MAX_CONTEXT_TOKENS", "lots"),
        ("MAX_CONTEXT_TOKENS", "10"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({name: value}, dotenv_path=None)


def test_a_bad_backend_is_one_line_naming_the_choices() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings({"ASSISTANT_BACKEND": "carrier-pigeon"}, dotenv_path=None)
    message = str(caught.value)
    assert "\n" not in message
    assert "'responses-stateless'" in message
    assert "'chat'" in message


@pytest.mark.parametrize(
    ("environ", "backend"),
    [
        ({}, "responses"),  # offline: the embedded emulator
        ({"OPENAI_API_KEY": "k"}, "responses"),  # OpenAI itself
        ({"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"}, "auto"),  # another server: probed
        ({"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1", "ASSISTANT_BACKEND": "chat"}, "chat"),
        ({"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1", "ASSISTANT_BACKEND": " "}, "auto"),
    ],
)
def test_auto_is_the_default_for_a_server_named_by_base_url(
    environ: dict[str, str], backend: str
) -> None:
    assert load_settings(environ, dotenv_path=None).backend == backend


def test_key_makes_it_online_and_is_never_shown() -> None:
    settings = load_settings({"OPENAI_API_KEY": "sk-test-1234567890"}, dotenv_path=None)
    assert not settings.offline
    assert "sk-test" not in repr(settings)
    assert "sk-test" not in str(settings)
    assert "sk-test" not in str(settings.model_dump())


def test_blank_key_means_offline() -> None:
    assert load_settings({"OPENAI_API_KEY": "  "}, dotenv_path=None).offline


def test_offline_backend_forces_the_emulator_even_with_a_key() -> None:
    settings = load_settings(
        {"OPENAI_API_KEY": "k", "ASSISTANT_BACKEND": "offline"}, dotenv_path=None
    )
    assert settings.offline
