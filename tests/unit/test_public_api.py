"""Each package's `__all__` is explicit, importable, and nothing runs at import time."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["conversation", "mediator", "proxies", "proxies.backends", "tools", "emulator"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_names_exist(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__, f"{name} must declare __all__"
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert missing == []


def test_proxies_exports_are_pinned() -> None:
    import proxies

    assert sorted(proxies.__all__) == [
        "AssistantProxy",
        "ConversationBusyError",
        "ExchangePolicy",
        "UserProxy",
    ]


def test_importing_the_library_has_no_side_effects(tmp_path: Path) -> None:
    """No .env read into the environment, no folders, no threads, no sockets on import."""
    (tmp_path / ".env").write_text("ASSISTANT_ID=asst_from_dotenv\n")
    library = [name for name in PACKAGES if name != "conversation"]
    code = (
        "import os, threading\n"
        f"import {', '.join(library)}\n"
        "assert 'ASSISTANT_ID' not in os.environ, 'import read .env'\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
        "assert sorted(os.listdir('.')) == ['.env'], os.listdir('.')\n"
        "print('clean')\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "clean"


@pytest.mark.timeout(300)  # three interpreters start one after the other
def test_importing_conversation_exposes_dotenv_without_overriding(tmp_path: Path) -> None:
    """The seed's snippet reads os.environ["ASSISTANT_ID"] kept only in .env; nothing else
    happens (no folders, threads or sockets), the environment wins, and it can be turned off."""
    (tmp_path / ".env").write_text("ASSISTANT_ID=asst_from_dotenv\nMEDIATOR_TYPE=basic\n")
    code = (
        "import os, threading\n"
        "import conversation\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
        "assert sorted(os.listdir('.')) == ['.env'], os.listdir('.')\n"
        "print(os.environ.get('ASSISTANT_ID'), os.environ.get('MEDIATOR_TYPE'))\n"
    )

    def run(**extra: str) -> str:
        env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **extra}
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert run() == "asst_from_dotenv basic"
    assert run(MEDIATOR_TYPE="stateMachine") == "asst_from_dotenv stateMachine"
    assert run(ASSISTANT_MEDIATOR_NO_DOTENV="1") == "None None"
