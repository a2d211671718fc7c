"""Graphviz's `dot` draws two of the diagrams; without it those tests skip, naming the fix."""

from __future__ import annotations

import shutil

import pytest

DOT_MISSING = "Graphviz's dot is not installed: apt install graphviz"


@pytest.fixture
def graphviz_dot() -> str:
    """The path of `dot`; skips the test (saying what to install) when it is not on PATH."""
    path = shutil.which("dot")
    if path is None:
        pytest.skip(DOT_MISSING)
    return path
