"""The Streamlit scripts hold no bare expression at top level but their docstring and `main()`.

Streamlit's "magic" draws every other top-level expression on the page: an attribute
docstring under a constant once showed up above the history page's title.
"""

from __future__ import annotations

import ast

import pytest

from tests.apps.test_entry_points import ROOT


@pytest.mark.parametrize("script", ["streamlit-chat.py", "streamlit-history.py"])
def test_no_top_level_expression_would_be_drawn(script: str) -> None:
    body = ast.parse((ROOT / script).read_text()).body
    drawn = [
        ast.unparse(node)[:60]
        for node in body[1:]  # the first is the module's docstring
        if isinstance(node, ast.Expr) and ast.unparse(node) != "main()"
    ]
    assert drawn == []
