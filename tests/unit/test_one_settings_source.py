"""Issue 8: every entry point reads the one settings source (environment, then `.env`).

Real processes in a fresh working directory whose `.env` alone names the database and the
quote source: the terminal chat records there with those quotes, `db_setup.py` and the
history page's URL lookup find the same database; unusable values are one line, exit 2.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETTING_PREFIXES = ("OPENAI_", "ASSISTANT_", "MEDIATOR_", "QUOTE_", "EXCHANGE_", "DELIVERY")


def _fresh_env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(SETTING_PREFIXES) and k not in ("DATABASE_URL", "RECORD_EVENTS")
    }
    env["PYTHONPATH"] = str(ROOT)
    return env


def _run(script: str, cwd: Path, stdin: str = "", *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_fresh_env(),
        timeout=120,
        check=False,
    )


def test_database_and_quote_source_set_only_in_dotenv_reach_every_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "elsewhere" / "history.db"
    database.parent.mkdir()
    (tmp_path / ".env").write_text(
        f"DATABASE_URL=sqlite:///{database}\nQUOTE_SOURCE=simulated\n", encoding="utf-8"
    )
    chat = _run("terminal_chat.py", tmp_path, "What is the price of AAPL?\nexit\n")
    assert chat.returncode == 0, chat.stderr
    assert "simulated" in chat.stdout.lower()  # the quote source from .env
    assert not (tmp_path / "dbstorage").exists()  # nothing went to the default file
    with sqlite3.connect(database) as connection:
        texts = [row[0] for row in connection.execute("SELECT text FROM messages")]
    assert "What is the price of AAPL?" in texts

    setup = _run("db_setup.py", tmp_path)
    assert setup.returncode == 0, setup.stderr
    assert "nothing to do" in setup.stdout  # the same, already current, database

    import persistence

    for name in ("DATABASE_URL", "QUOTE_SOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    assert persistence.database_url() == f"sqlite:///{database}"  # what the history page opens


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ("DATABASE_URL=not a url", "DATABASE_URL"),
        ("DATABASE_URL=mysql://user:hunter2@db/x", "DATABASE_URL"),
        ("DATABASE_URL=sqlite:////nonexistent_dir_for_test/x.db", "DATABASE_URL"),
        ("QUOTE_SOURCE=bloomberg", "QUOTE_SOURCE"),
    ],
)
@pytest.mark.parametrize("script", ["terminal_chat.py", "db_setup.py"])
def test_an_unusable_setting_is_one_line_naming_it_and_exit_code_2(
    tmp_path: Path, line: str, named: str, script: str
) -> None:
    (tmp_path / ".env").write_text(line + "\n", encoding="utf-8")
    result = _run(script, tmp_path, "exit\n")
    if script == "db_setup.py" and named == "QUOTE_SOURCE":
        assert result.returncode == 0  # db_setup has no use for the quote source
        return
    assert result.returncode == 2, result.stderr
    assert named in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "hunter2" not in result.stderr
    assert not Path("/nonexistent_dir_for_test").exists()


def test_openai_base_url_alone_points_the_chat_at_a_local_server(tmp_path: Path) -> None:
    """Issue 15: one variable to use a standalone server (here the emulator), no key needed;
    the demo assistant and simulated quotes are the defaults there."""
    from emulator import EmulatorServer, Fault

    with EmulatorServer(poll_after_ms=10, queue_delay=0.0) as server:
        # A fault that changes nothing and counts the responses this server was asked for.
        counted = server.faults.add(
            Fault(method="POST", path="/responses", status=None, times=None)
        )
        (tmp_path / ".env").write_text(f"OPENAI_BASE_URL={server.base_url}\n", encoding="utf-8")
        result = _run("terminal_chat.py", tmp_path, "What is the price of AAPL?\nexit\n")
        assert result.returncode == 0, result.stderr
        assert "built-in offline emulator" not in result.stderr
        assert "AAPL" in result.stdout
        assert "simulated" in result.stdout.lower()
        assert server.faults.fired(counted) >= 2  # the question and the tool output


def test_settings_for_a_local_server_without_a_key() -> None:
    from conversation.settings import load_settings

    local = load_settings({"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"}, dotenv_path=None)
    assert not local.offline
    assert local.keyless
    assert local.quotes == "simulated"
    openai = load_settings({"OPENAI_API_KEY": "k"}, dotenv_path=None)
    assert openai.quotes == "yahoo"
