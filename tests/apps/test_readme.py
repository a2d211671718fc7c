"""The README's Python examples run as written, offline."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.apps.test_entry_points import ROOT, _clean_env, _sample_assistant_id

BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)


def _run_block(code: str, tmp_path: Path, stdin: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "example.py"
    script.write_text(code)
    return subprocess.run(
        [sys.executable, str(script)],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=_clean_env(tmp_path, ASSISTANT_ID=_sample_assistant_id()),
        timeout=60,
        check=False,
    )


def test_readme_has_the_examples() -> None:
    assert len(BLOCKS) >= 2
    assert "conversation.start_conversation(asst_id)" in BLOCKS[0]
    assert "open_conversation" in BLOCKS[1]


def test_readme_seed_snippet_runs(tmp_path: Path) -> None:
    result = _run_block(BLOCKS[0], tmp_path, "What is the price of GOOGL?\nexit\n")
    assert result.returncode == 0, result.stderr
    assert "GOOGL" in result.stdout


def test_readme_context_manager_example_runs(tmp_path: Path) -> None:
    result = _run_block(BLOCKS[1], tmp_path, "")
    assert result.returncode == 0, result.stderr
    assert "NVDA" in result.stdout
    # The listener printed the tool calls as they happened, before the reply.
    assert result.stdout.index("get_stock_price") < result.stdout.rindex("NVDA")


def test_readme_approval_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """In this process (a new one costs seconds): offline, the suite's own database."""
    (block,) = [b for b in BLOCKS if "APPROVE_TOOLS" in b]
    exec(compile(block, "README.md (approving tool calls)", "exec"), {"__name__": "__main__"})
    out = capsys.readouterr().out
    assert "Approval: buy_or_sell(symbol=MSFT, price=" in out
    assert "the APPROVE_TOOLS setting lists buy_or_sell" in out
    assert "you declined the buy_or_sell check for MSFT (not today)" in out
