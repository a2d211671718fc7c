"""DESIGN.md section 1: dependencies point one way. Walks every import of the toolkit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ["conversation", "mediator", "proxies", "tools", "emulator", "persistence"]
APPS = [
    "terminal_chat.py",
    "assistant_setup.py",
    "db_setup.py",
    "streamlit-chat.py",
    "streamlit-history.py",
]

# (module prefix that may import it) for each guarded third-party package.
ALLOWED = {
    "openai": ("proxies/backends/",),
    "transitions": ("mediator/state_machine.py",),
    "sqlalchemy": ("persistence/",),
    "alembic": ("persistence/",),
    "streamlit": ("streamlit-chat.py", "streamlit-history.py"),
    "st_aggrid": ("streamlit-history.py",),
}
# Toolkit packages a package must not import.
FORBIDDEN_INTERNAL = {
    "mediator/": ("proxies", "conversation", "persistence", "emulator"),
    "tools/": ("mediator", "proxies", "conversation", "persistence", "emulator"),
    "persistence/": ("proxies", "conversation", "emulator"),
    "emulator/": ("mediator", "proxies", "conversation", "persistence", "tools"),
    "proxies/": ("conversation", "persistence"),
}


def _sources() -> list[Path]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    files += [ROOT / app for app in APPS if (ROOT / app).exists()]
    return files


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _violations() -> list[str]:
    found = []
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        for name in _imports(path):
            top = name.split(".")[0]
            if top in ALLOWED and not rel.startswith(ALLOWED[top]):
                found.append(f"{rel} imports {name}")
            for prefix, banned in FORBIDDEN_INTERNAL.items():
                if rel.startswith(prefix) and top in banned:
                    found.append(f"{rel} imports {name}")
    return found


def test_import_boundaries_hold() -> None:
    assert _violations() == []


def test_the_checker_catches_a_violation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_root = tmp_path
    (fake_root / "mediator").mkdir()
    (fake_root / "mediator" / "bad.py").write_text("import openai\nfrom proxies import x\n")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", fake_root)
    assert sorted(_violations()) == [
        "mediator/bad.py imports openai",
        "mediator/bad.py imports proxies",
    ]
