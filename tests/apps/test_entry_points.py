"""The entry points as a new user runs them: real processes, offline default, no key."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEED_SNIPPET = """import conversation
import asyncio
import os

async def run():
    asst_id = os.environ["ASSISTANT_ID"]
    user_proxy = conversation.start_conversation(asst_id)
    while (True):
        user_input = input("\\nUser: ")
        if (user_input.lower() == "exit"):
            break
        user_proxy.send_user_message(user_input)
        response = await user_proxy.get_assistant_message()
        print("Assistant: ")
        print(response)

if __name__ == '__main__':
        asyncio.run(run())
"""


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a fresh machine: no key, no base URL, no settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "ASSISTANT_", "MEDIATOR_", "QUOTE_", "EXCHANGE_"))
    }
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def _run(
    args: list[str], stdin: str, cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=60,
        check=False,
    )


def _sample_assistant_id() -> str:
    match = re.search(r"^ASSISTANT_ID=(\S+)$", (ROOT / ".env_sample").read_text(), re.MULTILINE)
    assert match, ".env_sample must name the demo assistant id"
    return match.group(1)


def test_terminal_chat_piped_replies_from_tool_outputs(tmp_path: Path) -> None:
    result = _run(
        [str(ROOT / "terminal_chat.py")],
        "What is the price of AAPL?\nShould I buy MSFT and TSLA?\nexit\n",
        tmp_path,
        _clean_env(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "offline emulator" in result.stderr
    assert "System: get_stock_price" in out
    assert "System: buy_or_sell" in out
    assert re.search(r"AAPL.*\d+\.\d\d", out), out
    assert "MSFT" in out.split("Should I buy")[1]
    assert "TSLA" in out.split("Should I buy")[1]
    assert "Traceback" not in result.stderr


def test_terminal_chat_ends_cleanly_at_end_of_input(tmp_path: Path) -> None:
    result = _run([str(ROOT / "terminal_chat.py")], "hello\n", tmp_path, _clean_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "offline demo model" in result.stdout.lower()


def test_terminal_chat_reports_bad_configuration(tmp_path: Path) -> None:
    env = _clean_env(tmp_path, MEDIATOR_TYPE="quantum")
    result = _run([str(ROOT / "terminal_chat.py")], "exit\n", tmp_path, env)
    assert result.returncode == 2
    assert "MEDIATOR_TYPE" in result.stderr
    assert "Traceback" not in result.stderr


def test_seed_snippet_runs_verbatim_offline(tmp_path: Path) -> None:
    script = tmp_path / "snippet.py"
    script.write_text(SEED_SNIPPET)
    env = _clean_env(tmp_path, ASSISTANT_ID=_sample_assistant_id())
    result = _run([str(script)], "What is the price of NVDA?\nexit\n", tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert "Assistant: " in result.stdout
    assert "NVDA" in result.stdout.split("Assistant: ")[1]


def test_seed_snippet_reads_the_assistant_id_from_dotenv_alone(tmp_path: Path) -> None:
    script = tmp_path / "snippet.py"
    script.write_text(SEED_SNIPPET)
    (tmp_path / ".env").write_text(f"ASSISTANT_ID={_sample_assistant_id()}\n")
    env = _clean_env(tmp_path)
    env.pop("ASSISTANT_MEDIATOR_NO_DOTENV", None)  # the suite's own guard; users do not set it
    result = _run([str(script)], "What is the price of NVDA?\nexit\n", tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert "NVDA" in result.stdout.split("Assistant: ")[1]


def test_assistant_setup_stores_a_responses_assistant_the_chat_then_uses(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("MEDIATOR_TYPE=basic\nASSISTANT_ID=old\n")
    env = _clean_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'setup.db'}")
    result = _run(
        [str(ROOT / "assistant_setup.py"), "--write-env", "--env-file", str(env_file)],
        "",
        tmp_path,
        env,
    )
    assert result.returncode == 0, result.stderr
    assistant_id = result.stdout.strip()
    assert assistant_id.startswith("asst_")
    text = env_file.read_text()
    assert "MEDIATOR_TYPE=basic" in text
    assert f"ASSISTANT_ID={assistant_id}" in text
    assert "ASSISTANT_ID=old" not in text
    # A new process finds the stored definition (model, instructions, tools) by that id.
    chat = _run([str(ROOT / "terminal_chat.py")], "price of AAPL\nexit\n", tmp_path, env)
    assert chat.returncode == 0, chat.stderr
    assert "System: get_stock_price" in chat.stdout


def test_assistant_setup_on_the_offline_assistants_protocol_keeps_the_demo_id(
    tmp_path: Path,
) -> None:
    env_file = tmp_path / ".env"
    env = _clean_env(tmp_path, ASSISTANT_BACKEND="assistants")
    result = _run(
        [str(ROOT / "assistant_setup.py"), "--write-env", "--env-file", str(env_file)],
        "",
        tmp_path,
        env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith("asst_")
    assert "lives only as long as this process" in result.stderr
    assert f"ASSISTANT_ID={_sample_assistant_id()}" in env_file.read_text()


@pytest.mark.parametrize("protocol", ["responses", "assistants"])
def test_unknown_assistant_is_named_at_start_before_any_question(
    tmp_path: Path, protocol: str
) -> None:
    env = _clean_env(tmp_path, ASSISTANT_ID="asst_nobody_made", ASSISTANT_BACKEND=protocol)
    result = _run([str(ROOT / "terminal_chat.py")], "hello\nexit\n", tmp_path, env)
    assert result.returncode == 1, result.stderr
    assert "asst_nobody_made" in result.stderr
    assert "Assistant:" not in result.stdout  # no question reached a missing assistant
    assert "demo assistant" not in result.stderr  # the start-up line names the one asked for
    assert "Traceback" not in result.stderr
    if protocol == "responses":
        assert "assistant_setup.py" in result.stderr


@pytest.mark.parametrize("mediator_type", ["basic", "stateMachine"])
def test_terminal_chat_with_each_mediator(tmp_path: Path, mediator_type: str) -> None:
    env = _clean_env(tmp_path, MEDIATOR_TYPE=mediator_type)
    result = _run([str(ROOT / "terminal_chat.py")], "price of tesla\nexit\n", tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert "TSLA" in result.stdout
