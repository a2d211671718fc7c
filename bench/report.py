"""Where a benchmark's report goes: printed, and written to its results file."""

from __future__ import annotations

from pathlib import Path

__all__ = ["publish"]


def publish(report: str, path: Path) -> None:
    """Print `report` and write it to `path` (its folder made if missing)."""
    print(report)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report, encoding="utf-8")
    print(f"written to {path}")
