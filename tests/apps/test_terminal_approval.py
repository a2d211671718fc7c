"""Issue 12 in the terminal: a piped chat answers the approval question, as a person would."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from tests.apps.test_entry_points import ROOT, _clean_env, _run

QUESTION = "Approve buy_or_sell(symbol=MSFT, price="


def _started_calls(db: Path) -> list[str]:
    """The tool calls the journal saw start (each is written right before the tool runs)."""
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT name FROM journal WHERE kind = 'call_started'"))
            return [name for (name,) in rows]
    finally:
        engine.dispose()


def test_piped_chat_asks_before_buy_or_sell_and_runs_it_only_when_approved(
    tmp_path: Path,
) -> None:
    """One process, both answers (a process start costs seconds): `n`, then `y`."""
    db = tmp_path / "chat.db"
    env = _clean_env(tmp_path, APPROVE_TOOLS="buy_or_sell", DATABASE_URL=f"sqlite:///{db}")
    piped = "Should I buy MSFT?\nn\nShould I buy MSFT?\ny\nexit\n"
    result = _run([str(ROOT / "terminal_chat.py")], piped, tmp_path, env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    declined, approved = result.stdout.split("\nUser: Should I buy MSFT?")[1:]
    # Only buy_or_sell asks (get_stock_price just runs), once per exchange.
    assert declined.count(QUESTION) == approved.count(QUESTION) == 1
    assert "? [y/N] n\n" in declined
    assert "System: buy_or_sell(symbol=MSFT" in declined
    assert "not run: declined by the user" in declined
    assert "Understood: you declined the buy_or_sell check for MSFT" in declined
    assert "? [y/N] y\n" in approved
    assert "recommendation=" in approved
    assert "For MSFT at" in approved
    # buy_or_sell ran once: in the approved exchange only.
    assert sorted(_started_calls(db)) == ["buy_or_sell", "get_stock_price", "get_stock_price"]
