"""DESIGN.md section 1: dependencies point one way. Walks every import of the toolkit.

Relative imports are resolved to the module they name (``from . import x`` in ``mediator/a.py``
is ``mediator.x``), so they are held to the same rules. The apps may use only the public API:
a package's top-level name and the names in its ``__init__``'s ``__all__``.
"""

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
    # An optional extra: imported only where its absence is handled (conversation.tracing).
    "opentelemetry": ("conversation/tracing.py", "conversation/otel_spans.py"),
}
# Toolkit packages a package must not import.
FORBIDDEN_INTERNAL = {
    "mediator/": ("proxies", "conversation", "persistence", "emulator"),
    "tools/": ("mediator", "proxies", "conversation", "persistence", "emulator"),
    "persistence/": ("proxies", "conversation", "emulator"),
    "emulator/": ("mediator", "proxies", "conversation", "persistence", "tools"),
    "proxies/": ("conversation", "persistence"),
}
# Private imports of apps owned elsewhere, each waiting for a public name (issue 8): this list
# only shrinks. A test fails when an entry is no longer needed, so it cannot go stale.
PENDING_PRIVATE = {
    "assistant_setup.py imports conversation.demo",
    "assistant_setup.py imports conversation.settings",
    "assistant_setup.py imports conversation.wiring",
    "assistant_setup.py imports proxies.errors",
}


def _sources() -> list[Path]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    files += [ROOT / app for app in APPS if (ROOT / app).exists()]
    return files


def _module_of(rel: str) -> str:
    """The dotted module a repository path is imported as (`mediator/__init__.py` is `mediator`)."""
    parts = rel.removesuffix(".py").split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(rel: str, node: ast.ImportFrom) -> list[str]:
    """The absolute modules a `from ... import ...` names.

    For a relative import the anchor is the importing module's package, climbed `level - 1`
    times; climbing past a top-level package lands at the repository root, where the first
    name is itself a top-level package (``from .. import proxies`` in ``mediator/a.py``).
    """
    if node.level == 0:
        return [node.module or ""]
    package = _module_of(rel).split(".")
    if not rel.endswith("__init__.py"):
        package = package[:-1]  # a module's package; an `__init__` is its own package
    anchor = package[: max(len(package) - (node.level - 1), 0)]
    if node.module:
        return [".".join([*anchor, node.module])]
    return [".".join([*anchor, alias.name]) for alias in node.names]


def _imports(path: Path) -> set[str]:
    rel = path.relative_to(ROOT).as_posix()
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.update(_resolve(rel, node))
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


# -- the apps use the public API only --------------------------------------------------------


def _public_names(package: str) -> set[str]:
    """The names in `package/__init__.py`'s `__all__`, read from its source (no import)."""
    tree = ast.parse((ROOT / package / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                assert node.value is not None
                return set(ast.literal_eval(node.value))
    raise AssertionError(f"{package}/__init__.py declares no __all__")


def _app_import_violations(app: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        modules = [alias.name for alias in node.names]
        return [f"{app} imports {m}" for m in modules if m.split(".")[0] in PACKAGES and "." in m]
    found = []
    for module in _resolve(app, node):
        top = module.split(".")[0]
        if top not in PACKAGES:
            continue
        if module != top:
            found.append(f"{app} imports {module}")
            continue
        public = _public_names(top)
        found += [f"{app} imports {top}.{a.name}" for a in node.names if a.name not in public]
    return found


def _app_violations() -> list[str]:
    """Every import of a toolkit module other than a top-level package, every imported name
    not in that package's `__all__`, and every `package.name` attribute not in it."""
    found = []
    for app in APPS:
        path = ROOT / app
        if not path.exists():
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        imports = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
        for node in imports:
            found += _app_import_violations(app, node)
        packages = {  # local name -> package, for `import conversation` then `conversation.x`
            alias.asname or alias.name: alias.name
            for node in imports
            if isinstance(node, ast.Import)
            for alias in node.names
            if alias.name in PACKAGES
        }
        found += [
            f"{app} uses {packages[node.value.id]}.{node.attr}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in packages
            and node.attr not in _public_names(packages[node.value.id])
        ]
    return sorted(set(found))


def test_import_boundaries_hold() -> None:
    assert _violations() == []


def test_apps_use_only_the_public_api() -> None:
    assert set(_app_violations()) - PENDING_PRIVATE == set()


def test_pending_private_imports_are_still_pending() -> None:
    """Once an app stops needing a private module, its entry must go from `PENDING_PRIVATE`."""
    assert PENDING_PRIVATE - set(_app_violations()) == set()


def test_the_checker_catches_a_violation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_root = tmp_path
    (fake_root / "mediator" / "sub").mkdir(parents=True)
    (fake_root / "mediator" / "bad.py").write_text(
        "import openai\nfrom proxies import x\nfrom .. import persistence\nfrom . import script\n"
    )
    (fake_root / "mediator" / "sub" / "deep.py").write_text(
        "from ...emulator.app import y\nfrom ..events import z\n"
    )
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", fake_root)
    assert sorted(_violations()) == [
        "mediator/bad.py imports openai",
        "mediator/bad.py imports persistence",
        "mediator/bad.py imports proxies",
        "mediator/sub/deep.py imports emulator.app",
    ]


def test_relative_imports_resolve_to_their_package() -> None:
    def resolve(rel: str, source: str) -> list[str]:
        node = ast.parse(source).body[0]
        assert isinstance(node, ast.ImportFrom)
        return _resolve(rel, node)

    assert resolve("mediator/bad.py", "from . import script, events") == [
        "mediator.script",
        "mediator.events",
    ]
    assert resolve("mediator/bad.py", "from .script import State") == ["mediator.script"]
    assert resolve("mediator/__init__.py", "from .events import X") == ["mediator.events"]
    assert resolve("emulator/common/x.py", "from ..responses import y") == ["emulator.responses"]
    assert resolve("emulator/common/x.py", "from ... import proxies") == ["proxies"]


def test_the_checker_catches_an_app_using_a_private_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conversation").mkdir()
    (tmp_path / "conversation" / "__init__.py").write_text('__all__ = ["open_conversation"]\n')
    (tmp_path / "terminal_chat.py").write_text(
        "import conversation\nimport conversation.wiring\n"
        "from conversation import open_conversation, load_settings\n"
        "from conversation.settings import Settings\n"
        "conversation.open_conversation()\nconversation.wiring.make_backend()\n"
    )
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path)
    assert _app_violations() == [
        "terminal_chat.py imports conversation.load_settings",
        "terminal_chat.py imports conversation.settings",
        "terminal_chat.py imports conversation.wiring",
        "terminal_chat.py uses conversation.wiring",
    ]
