"""The package's public surface and its place in the dependency graph."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tools

TOOLS_DIR = Path(tools.__file__).parent
TOOLKIT_PACKAGES = {"conversation", "emulator", "mediator", "proxies", "persistence"}


def test_public_api_is_pinned() -> None:
    assert sorted(tools.__all__) == [
        "FunctionTool",
        "QuoteUnavailableError",
        "ToolCall",
        "ToolDefinitionError",
        "ToolError",
        "ToolErrorType",
        "ToolRegistry",
        "ToolResult",
        "buy_or_sell",
        "current_call",
        "demo_registry",
        "function_tool",
        "get_stock_price",
        "idempotency_key",
        "quote_source",
    ]
    for name in tools.__all__:
        assert getattr(tools, name) is not None


def _imported_top_level_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_tools_is_a_leaf_that_never_imports_openai() -> None:
    offenders = {
        path.name: sorted(_imported_top_level_modules(path) & (TOOLKIT_PACKAGES | {"openai"}))
        for path in sorted(TOOLS_DIR.glob("*.py"))
    }
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_importing_tools_does_not_load_yfinance_or_read_the_environment() -> None:
    code = (
        "import os, sys; os.environ['QUOTE_SOURCE'] = 'bogus'; import tools; "
        "print('yfinance' in sys.modules, 'openai' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=TOOLS_DIR.parent,
    )
    assert done.stdout.split() == ["False", "False"]
