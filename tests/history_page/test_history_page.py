"""streamlit-history.py under AppTest: drill-down, filters, pages, and a missing or empty database.

AppTest cannot click an AgGrid (it is an `UnknownElement` there), so selections are driven the
way the grids deliver them: by `st.session_state` (``selected_conversation``, ``selected_run``,
``selected_event``), and, with ``HISTORY_GRID=dataframe``, by the `st.dataframe` selection state
that a click in the browser would set.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from persistence import HistoryStore, RunRow, history, make_engine, upgrade_schema
from tests.history_page.conftest import (
    FAIL_MESSAGE,
    SCRIPTED_ASSISTANT_ID,
    TOOL_QUESTIONS,
    XSS,
    XSS_QUESTION,
    RecordedHistory,
    sqlite_url,
)
from tests.pages.conftest import ROOT

# streamlit-aggrid 1.2.1 reads its bundled JSON with `json.load(open(...))` and never closes it.
pytestmark = [
    pytest.mark.filterwarnings("ignore:unclosed file.*st_aggrid:ResourceWarning"),
    pytest.mark.filterwarnings(
        "ignore:Exception ignored in.*st_aggrid/json:pytest.PytestUnraisableExceptionWarning"
    ),
]

APP = str(ROOT / "streamlit-history.py")
TIMEOUT_S = 30


def started() -> AppTest:
    """The page after its first run."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.run()
    assert not at.exception
    return at


def select(at: AppTest, **values: object) -> AppTest:
    """Set selections in session_state, as a grid does, and rerun."""
    for name, value in values.items():
        at.session_state[name] = value
    at.run()
    assert not at.exception
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text]


def codes(at: AppTest) -> list[str]:
    return [c.value for c in at.code]


def headings(at: AppTest) -> list[str]:
    return [h.value for h in at.subheader]


def conversation_ids(at: AppTest) -> list[str]:
    """The ids in the conversations table (dataframe mode)."""
    return list(at.dataframe[0].value["Conversation"])


def store(history: RecordedHistory) -> HistoryStore:
    return HistoryStore(history.url)


@pytest.fixture
def dataframe_mode(
    monkeypatch: pytest.MonkeyPatch, history_env: RecordedHistory
) -> RecordedHistory:
    monkeypatch.setenv("HISTORY_GRID", "dataframe")
    return history_env


def runs_of(history: RecordedHistory, *conversation_ids: str) -> list[RunRow]:
    return [r for c in conversation_ids for r in store(history).list_runs(c).items]


def cards_for(runs: list[RunRow]) -> dict[str, str]:
    seconds = sum(r.duration_s or 0.0 for r in runs)
    events = sum(r.event_count for r in runs)
    tokens = sum(r.total_tokens or 0 for r in runs)
    return {
        "Runs": str(len(runs)),
        "Events": str(events),
        "Run duration": f"{seconds:.3f} s",
        "Tokens": f"{tokens:,}",
        # The emulator's model has no price: said so, never counted as $0.
        "Cost": "no price" if tokens else "–",
    }


def test_page_loads_with_metrics_and_the_conversation_grid(history_env: RecordedHistory) -> None:
    at = started()
    assert at.title[0].value == "Conversation history"
    everything = runs_of(history_env, history_env.tools, history_env.failed, history_env.xss)
    assert metrics(at) == {"Conversations": "3", **cards_for(everything)}
    assert headings(at) == ["Conversations"]
    assert "1–3 of 3 conversations" in [c.value for c in at.caption]
    grids = at.get("component_instance")
    assert [g.key for g in grids] == [g.key for g in grids if g.key.startswith("conversations-")]
    assert len(grids) == 1
    assert not at.dataframe  # AgGrid is the default


def test_usage_and_cost_columns_totals_and_a_chart_over_time(
    dataframe_mode: RecordedHistory,
) -> None:
    at = started()
    grid = at.dataframe[0].value
    listed = {c.id: c for c in store(dataframe_mode).list_conversations().items}
    for _, row in grid.iterrows():
        conversation = listed[row["Conversation"]]
        assert conversation.total_tokens
        assert row["Tokens"] == f"{conversation.total_tokens:,}"
        assert row["Cost"] == "no price"  # the emulator's model has no price
    totals = store(dataframe_mode).usage_totals()
    assert metrics(at)["Tokens"] == f"{totals.total_tokens:,}"
    assert totals.total_tokens == sum(c.total_tokens for c in listed.values())
    (chart,) = at.get("vega_lite_chart")  # cost over time: tokens, as no price is known
    assert "Tokens" in chart.proto.spec
    assert any("No price is known" in c.value for c in at.caption)
    at = select(at, selected_conversation=dataframe_mode.tools)
    assert list(at.dataframe[1].value["Cost"]) == ["no price"] * 2
    first, _ = store(dataframe_mode).list_runs(dataframe_mode.tools).items
    at = select(at, selected_run=first.id)
    assert first.prompt_tokens
    assert first.completion_tokens
    line = f"offline-demo · {first.prompt_tokens:,} in / {first.completion_tokens:,} out tokens"
    assert f"{line} · no price known" in [c.value for c in at.caption]
    assert metrics(at)["Tokens"] == f"{first.total_tokens:,}"
    assert metrics(at)["Cost"] == "no price"


def test_drill_down_conversation_runs_events_through_session_state(
    history_env: RecordedHistory,
) -> None:
    at = select(started(), selected_conversation=history_env.tools)
    assert metrics(at) == {
        "Conversations": "3",
        **cards_for(runs_of(history_env, history_env.tools)),
    }
    assert headings(at) == ["Conversations", f"Conversation {history_env.tools}"]
    assert texts(at)[::2] == list(TOOL_QUESTIONS)  # the messages, as plain text
    assert len(at.get("component_instance")) == 2  # conversations, runs

    first, _ = store(history_env).list_runs(history_env.tools).items
    at = select(at, selected_run=first.id)
    assert headings(at)[-1] == f"Run {first.id}"
    assert metrics(at)["Events"] == str(first.event_count)
    assert metrics(at)["Run duration"] == f"{first.duration_s:.3f} s"
    assert first.total_tokens
    assert metrics(at)["Tokens"] == f"{first.total_tokens:,}"
    assert len(at.get("component_instance")) == 3  # ... and the run's events
    assert len(at.get("vega_lite_chart")) == 2  # the cost over time, and the run's timeline

    events = store(history_env).list_run_events(first.id).items
    executed = next(e for e in events if e.type == "ToolExecuted")
    at = select(at, selected_event=executed.seq)
    assert any('"symbol": "MSFT"' in c for c in codes(at))  # the tool's input, whole
    assert any('"price":' in c for c in codes(at))  # and its output


def test_timeline_chart_has_state_intervals_and_tool_spans(history_env: RecordedHistory) -> None:
    first, _ = store(history_env).list_runs(history_env.tools).items
    at = select(started(), selected_conversation=history_env.tools, selected_run=first.id)
    _, chart = at.get("vega_lite_chart")  # after the cost over time
    spec = json.loads(chart.proto.spec)
    assert spec["mark"]["type"] == "bar"
    assert set(spec["encoding"]) >= {"x", "x2", "y", "color", "tooltip"}
    lanes = spec["encoding"]["y"]["sort"]
    assert lanes[:2] == ["ready", "started"]
    assert "completed" in lanes
    assert "tool: get_stock_price" in lanes
    assert "tool: buy_or_sell" in lanes


def test_a_stale_selection_is_not_reused(history_env: RecordedHistory) -> None:
    first, _ = store(history_env).list_runs(history_env.tools).items
    at = select(started(), selected_conversation=history_env.tools, selected_run=first.id)
    at = select(at, selected_event=0)
    at = select(at, selected_conversation=history_env.failed)
    assert at.session_state["selected_run"] is None  # that run is not the failed one's
    assert headings(at) == ["Conversations", f"Conversation {history_env.failed}"]
    at = select(at, selected_conversation="no-such-conversation")
    assert at.session_state["selected_conversation"] is None
    assert headings(at) == ["Conversations"]


def test_failed_run_shows_its_status_and_error_as_text(history_env: RecordedHistory) -> None:
    (run,) = store(history_env).list_runs(history_env.failed).items
    at = select(started(), selected_conversation=history_env.failed, selected_run=run.id)
    assert [e.value for e in at.error] == ["Run failed (server_error)"]
    assert any(FAIL_MESSAGE in c for c in codes(at))


def test_xss_reply_is_literal_text_never_markup(history_env: RecordedHistory) -> None:
    (run,) = store(history_env).list_runs(history_env.xss).items
    at = select(started(), selected_conversation=history_env.xss, selected_run=run.id)
    assert XSS in texts(at)  # the message, in st.text
    retrieved = next(
        e for e in store(history_env).list_run_events(run.id).items if e.type == "MessageRetrieved"
    )
    at = select(at, selected_event=retrieved.seq)
    assert XSS in codes(at)  # the event's output, in st.code
    markup = [m.value for m in at.markdown] + [c.value for c in at.caption]
    assert not [m for m in markup if "<img" in m or "onerror" in m]


def test_dataframe_mode_drills_down_by_row_selection(dataframe_mode: RecordedHistory) -> None:
    at = started()
    table = at.dataframe[0]
    row = conversation_ids(at).index(dataframe_mode.tools)
    at.session_state[table.key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert at.session_state["selected_conversation"] == dataframe_mode.tools
    runs = at.dataframe[1]
    assert list(runs.value["Status"]) == ["completed", "completed"]
    assert runs.key.startswith(f"runs-{dataframe_mode.tools}-")  # keyed by its parent

    at.session_state[runs.key] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    at.run()
    second = store(dataframe_mode).list_runs(dataframe_mode.tools).items[1]
    assert at.session_state["selected_run"] == second.id
    events = at.dataframe[2]
    assert list(events.value["Seq"]) == list(range(second.event_count))
    row = list(events.value["Type"]).index("ToolExecuted")
    at.session_state[events.key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert at.session_state["selected_event"] == str(row)
    assert any('"symbol": "AAPL"' in c for c in codes(at))


def test_query_param_selects_the_dataframe_grids(history_env: RecordedHistory) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT_S)
    at.query_params["grid"] = "dataframe"
    at.run()
    assert not at.exception
    assert set(conversation_ids(at)) == {history_env.tools, history_env.failed, history_env.xss}
    assert not at.get("component_instance")


@pytest.mark.parametrize(
    ("widget", "value", "expected"),
    [
        ("filter_status", "failed", "failed"),
        ("filter_text", "zebra", "xss"),
        ("filter_assistant", SCRIPTED_ASSISTANT_ID, "xss"),
    ],
)
def test_a_filter_keeps_only_matching_conversations(
    dataframe_mode: RecordedHistory, widget: str, value: str, expected: str
) -> None:
    at = started()
    if widget == "filter_text":
        at.sidebar.text_input(key=widget).input(value).run()
    else:
        at.sidebar.selectbox(key=widget).select(value).run()
    assert not at.exception
    only = getattr(dataframe_mode, expected)
    assert conversation_ids(at) == [only]
    assert metrics(at) == {"Conversations": "1", **cards_for(runs_of(dataframe_mode, only))}


def test_date_filter_and_no_match(dataframe_mode: RecordedHistory) -> None:
    at = started()
    today = datetime.now(UTC).date()
    at.sidebar.date_input(key="filter_from").set_value(today - timedelta(days=1)).run()
    assert len(conversation_ids(at)) == 3
    at.sidebar.date_input(key="filter_from").set_value(today + timedelta(days=2)).run()
    assert not at.dataframe
    assert [i.value for i in at.info] == ["No conversation matches these filters."]
    assert metrics(at) == {"Conversations": "0", **cards_for([])}


def test_text_search_finds_the_message_and_rejects_others(dataframe_mode: RecordedHistory) -> None:
    at = started()
    at.sidebar.text_input(key="filter_text").input(XSS_QUESTION.split()[-1]).run()
    assert conversation_ids(at) == [dataframe_mode.xss]
    at.sidebar.text_input(key="filter_text").input("nothing-says-this").run()
    assert [i.value for i in at.info] == ["No conversation matches these filters."]


def test_refresh_button_reruns_cleanly(history_env: RecordedHistory) -> None:
    at = started()
    at.sidebar.button[0].click().run()
    assert not at.exception
    assert metrics(at)["Conversations"] == "3"


# -- pages in SQL --------------------------------------------------------------------------


def test_pages_come_from_the_store_with_totals(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, many_db: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", many_db)
    monkeypatch.setenv("HISTORY_GRID", "dataframe")
    monkeypatch.chdir(tmp_path)
    at = started()
    at.sidebar.selectbox(key="page_size").select(10).run()
    assert "1–10 of 12 conversations" in [c.value for c in at.caption]
    first = conversation_ids(at)
    assert len(first) == 10
    (page,) = at.number_input
    assert page.label == "Page (of 2)"
    page.set_value(2).run()
    assert "11–12 of 12 conversations" in [c.value for c in at.caption]
    second = conversation_ids(at)
    assert len(second) == 2
    assert not set(first) & set(second)
    assert metrics(at)["Conversations"] == "12"


def test_a_common_word_shows_a_lower_bound_and_still_pages(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, many_db: str
) -> None:
    """Past `SET_LIMIT` matches a text search is not counted whole: "at least", and the
    pages still reach every match."""
    monkeypatch.setattr(history, "SET_LIMIT", 5)
    monkeypatch.setenv("DATABASE_URL", many_db)
    monkeypatch.setenv("HISTORY_GRID", "dataframe")
    monkeypatch.chdir(tmp_path)
    at = started()
    at.sidebar.selectbox(key="page_size").select(10).run()
    at.sidebar.text_input(key="filter_text").input("number").run()
    assert "1–10 of at least 11 conversations" in [c.value for c in at.caption]
    assert metrics(at)["Conversations"] == "at least 11"
    first = conversation_ids(at)
    (page,) = at.number_input
    page.set_value(2).run()
    assert "11–12 of at least 12 conversations" in [c.value for c in at.caption]
    assert len(set(first) | set(conversation_ids(at))) == 12


# -- the database missing, empty or wrong ----------------------------------------------------


def setup_commands(at: AppTest) -> str:
    return "\n".join(codes(at))


def test_missing_database_file_says_how_to_create_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "history.db"
    monkeypatch.setenv("DATABASE_URL", sqlite_url(missing))
    monkeypatch.chdir(tmp_path)
    at = started()
    assert [w.value for w in at.warning] == [f"No history database yet: {missing} does not exist."]
    assert "python db_setup.py" in setup_commands(at)
    assert "python terminal_chat.py" in setup_commands(at)
    assert not missing.exists()  # looking did not create it


def test_database_in_a_missing_folder_is_a_clear_error_naming_the_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "nothing-here" / "history.db"
    monkeypatch.setenv("DATABASE_URL", sqlite_url(missing))
    monkeypatch.chdir(tmp_path)
    at = started()
    assert [e.value for e in at.error] == ["DATABASE_URL cannot be used."]
    assert "nothing-here" in " ".join(texts(at))
    assert not missing.parent.exists()  # looking did not create it


def test_default_database_missing_in_a_fresh_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    at = started()
    assert "dbstorage/assistant_mediator.db does not exist" in at.warning[0].value
    assert "python db_setup.py" in setup_commands(at)
    assert not (tmp_path / "dbstorage").exists()


def test_database_without_schema_says_run_db_setup(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "bare.db"
    sqlite3.connect(path).close()
    monkeypatch.setenv("DATABASE_URL", sqlite_url(path))
    monkeypatch.chdir(tmp_path)
    at = started()
    assert "is not set up" in at.warning[0].value
    assert "python db_setup.py" in setup_commands(at)
    assert any("db_setup.py" in t for t in texts(at))  # the schema check's own words


def test_empty_database_says_how_to_record_a_conversation(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = sqlite_url(tmp_path / "empty.db")
    engine = make_engine(url)
    upgrade_schema(engine)
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    at = started()
    assert [w.value for w in at.warning] == ["No conversations recorded yet."]
    assert "python terminal_chat.py" in setup_commands(at)
    assert "db_setup" not in setup_commands(at)  # it exists already


@pytest.mark.parametrize(
    ("url", "headline"),
    [
        ("this is not a url", "DATABASE_URL cannot be used."),
        ("nosuchdb://user:secret@127.0.0.1/x", "DATABASE_URL cannot be used."),
        (
            "postgresql+psycopg://user:secret@127.0.0.1:1/history",
            "Cannot reach the database named by DATABASE_URL",
        ),
    ],
)
def test_bad_database_url_is_a_clear_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str, headline: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(tmp_path)
    at = started()
    assert len(at.error) == 1
    assert at.error[0].value.startswith(headline)
    shown = " ".join([at.error[0].value, *texts(at)])
    assert "secret" not in shown
