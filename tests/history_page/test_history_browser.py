"""streamlit-history.py as people use it: `streamlit run`, headless Chromium, real AgGrid clicks.

The grids are streamlit-aggrid iframes; a click on a row selects it, the page reruns and draws
the next level. The HTML payload that the scripted model replied must show as text: no dialog
fires and no ``<img src="x">`` element exists in the page or in any frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.history_page.conftest import XSS, RecordedHistory
from tests.pages.conftest import (
    APP_WAIT_MS,
    BROWSER_TEST_TIMEOUT_S,
    clean_env,
    open_app,
    streamlit_server,
    wait_for_app_run,
)

APP = "streamlit-history.py"
pytestmark = pytest.mark.timeout(BROWSER_TEST_TIMEOUT_S)
GRID = "iframe[title='st_aggrid.AgGrid.agGrid']"


@pytest.fixture(scope="module")
def history_app(
    recorded_db: RecordedHistory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The history page on the recorded database, served for this module's tests."""
    cwd = tmp_path_factory.mktemp("history-app")
    with streamlit_server(APP, clean_env(DATABASE_URL=recorded_db.url), cwd) as url:
        yield url


@pytest.fixture
def page(browser: Any, history_app: str) -> Iterator[Any]:
    """A fresh browser page on the history page; fails the test if any dialog opens."""
    dialogs: list[str] = []
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    open_app(page, history_app)
    yield page
    page.close()
    assert dialogs == [], "the page opened a dialog: some text was run as script"


def grid(page: Any, level: int) -> Any:
    """The AgGrid frame of `level` (0 conversations, 1 runs, 2 events) once it has rows."""
    expect(page.locator(GRID)).to_have_count(level + 1, timeout=APP_WAIT_MS)
    frame = page.frame_locator(GRID).nth(level)
    expect(frame.locator(".ag-row").first).to_be_visible(timeout=APP_WAIT_MS)
    return frame


def click_row(page: Any, level: int, text: str) -> None:
    grid(page, level).locator(".ag-row").filter(has_text=text).first.click()
    wait_for_app_run(page)


def no_injected_images(page: Any) -> None:
    for frame in page.frames:
        assert frame.locator('img[src="x"]').count() == 0, f"an <img> was injected in {frame.url}"


def test_clicking_down_to_a_run_shows_its_events_timeline_and_payloads(
    page: Any, recorded_db: RecordedHistory
) -> None:
    click_row(page, 0, "Should I buy MSFT?")
    expect(page.get_by_test_id("stHeading").filter(has_text=recorded_db.tools)).to_be_visible()
    runs = grid(page, 1)
    expect(runs.locator(".ag-row")).to_have_count(2)

    click_row(page, 1, "completed")
    events = grid(page, 2)
    expect(events.locator(".ag-row").filter(has_text="ToolExecuted")).to_have_count(2)
    expect(events.locator(".ag-row").filter(has_text="get_stock_price").first).to_be_visible()
    chart = page.get_by_test_id("stVegaLiteChart")
    expect(chart.locator("canvas, svg").first).to_be_visible(timeout=APP_WAIT_MS)
    metrics = page.get_by_test_id("stMetricValue")
    expect(metrics.nth(1)).to_have_text("2")  # runs of the conversation

    click_row(page, 2, "ToolExecuted")
    code = page.get_by_test_id("stCode")
    expect(code.filter(has_text='"symbol": "MSFT"').first).to_be_visible(timeout=APP_WAIT_MS)
    no_injected_images(page)


def test_html_reply_is_shown_as_text_and_never_runs(
    page: Any, recorded_db: RecordedHistory
) -> None:
    click_row(page, 0, "zebra")
    click_row(page, 1, "completed")
    events = grid(page, 2)
    cells = events.locator(".ag-cell").filter(has_text=XSS)
    expect(cells).to_have_count(2)  # the streamed delta and the retrieved message
    expect(cells.last).to_have_text(XSS)

    messages = page.get_by_test_id("stExpander").filter(has_text="Messages (2)")
    messages.click()
    expect(messages.get_by_test_id("stExpanderDetails")).to_be_visible()
    no_injected_images(page)
    expect(messages.get_by_test_id("stText").filter(has_text=XSS)).to_be_visible()

    click_row(page, 2, "MessageRetrieved")
    expect(page.get_by_test_id("stCode").filter(has_text=XSS)).to_be_visible(timeout=APP_WAIT_MS)
    no_injected_images(page)


def test_at_1280_px_every_column_shows_and_the_grid_logs_no_deprecation(
    browser: Any, history_app: str
) -> None:
    console: list[str] = []
    requests: list[str] = []
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda message: console.append(message.text))
    page.on("request", lambda request: requests.append(request.url))
    open_app(page, history_app)
    frame = grid(page, 0)
    right = page.locator(GRID).first.bounding_box()
    headers = frame.locator(".ag-header-cell")
    expect(headers.filter(has_text="Updated (UTC)")).to_be_visible()
    for header in headers.all():
        box = header.bounding_box()
        assert box["x"] + box["width"] <= right["x"] + right["width"] + 1, header.inner_text()
    page.close()
    assert [m for m in console if "deprecated" in m] == []
    assert [u for u in requests if not u.startswith(("http://127.0.0.1", "data:", "blob:"))] == []


def test_the_events_grid_shows_every_row_of_its_page(
    page: Any, recorded_db: RecordedHistory
) -> None:
    click_row(page, 0, "Should I buy MSFT?")
    click_row(page, 1, "completed")
    events = grid(page, 2)
    rows = events.locator(".ag-row")
    expect(rows.first).to_be_visible()
    count = rows.count()
    assert count > 12  # more than the old fixed 12-row window
    # No inner scroll bar: the grid's body is as tall as the rows it holds.
    scroll = events.locator(".ag-body-viewport").evaluate("e => e.scrollHeight - e.clientHeight")
    assert scroll <= 1
