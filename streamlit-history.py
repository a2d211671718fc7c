"""Browse the recorded history: `streamlit run streamlit-history.py`.

Conversations, then the runs of the selected conversation, then the events of the selected run,
read through `persistence.HistoryStore` from ``DATABASE_URL`` (default: the sqlite file under
``dbstorage/``), one page at a time in SQL, filtered from the sidebar. The grids are
streamlit-aggrid's community edition with single-row selection; a selection made in a grid is
written to ``st.session_state`` (``selected_conversation``, ``selected_run``, ``selected_event``)
and the page reads it from there, so it can also be set without a grid. ``?grid=dataframe`` or
``HISTORY_GRID=dataframe`` uses ``st.dataframe`` row selection instead of AgGrid. Everything a
conversation recorded is untrusted and shown as text: grid cells, ``st.text``, ``st.code``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd
import streamlit as st
from st_aggrid import AgGrid, GridOptionsBuilder
from streamlit.delta_generator import DeltaGenerator

import persistence
from conversation import State, Usage, format_usd, pretty_json
from persistence import (
    MAX_LIMIT,
    AssistantRow,
    ConversationFilter,
    ConversationRow,
    CostPoint,
    HistoryStore,
    MessageRow,
    Page,
    RunEventRow,
    RunRow,
    Timeline,
    UsageTotals,
)

if TYPE_CHECKING:  # altair is imported when a run's timeline is drawn: it costs 1-2 s
    import altair as alt

R = TypeVar("R")

PAGE_SIZES = (10, 25, 50, 100)
ANY = "(any)"
SNIPPET = 120
# Grid geometry: the grid is as tall as the page of rows it shows (no inner scroll bar, so
# "Rows per page" is what one sees); a short column is as wide as its longest value at
# ~6.8 px a character (the grid's 12 px font) plus padding; ids and long text share the rest.
GRID_HEADER_PX, GRID_ROW_PX, GRID_FRAME_PX = 40, 29, 4
CHAR_PX, CELL_PADDING_PX, LONG_TEXT, LONG_MIN_PX = 6.8, 20, 24, 110
SELECTIONS = ("selected_conversation", "selected_run", "selected_event")
KIND_COLOURS = {
    "state": "#4c78a8",
    "tool call": "#f58518",
    "tool error": "#e45756",
    "approval": "#54a24b",
    "rejected": "#b279a2",
}
SETUP_STEPS = (
    "python db_setup.py              # create the database and its tables (safe to rerun)",
    "python terminal_chat.py         # then record a conversation in the terminal,",
    "streamlit run streamlit-chat.py # or in the browser",
)
# (Comments, not docstrings: Streamlit's "magic" would draw a bare string on the page.)
CACHE_S = 5  # seconds an answer from the database is reused: reruns within it do not query
TOTALS_SCAN = 200  # most conversations whose runs the summary cards add up (`filtered_totals`)

# -- reading: one store (engine) per database for the process, answers cached for a while ---


@dataclass(frozen=True, slots=True)
class Totals:
    """What the Runs, Events and Run duration cards show for a set of runs.

    `complete` is false when the set was larger than `TOTALS_SCAN` conversations and only
    those were counted: the numbers are then lower bounds.
    """

    runs: int
    events: int
    seconds: float
    complete: bool = True


@st.cache_resource(show_spinner=False)
def store_for(url: str) -> HistoryStore:
    return HistoryStore(url)


@st.cache_data(ttl=CACHE_S, show_spinner=False)
def check_schema(url: str) -> None:
    persistence.check_schema(store_for(url).engine)


@st.cache_data(ttl=CACHE_S, show_spinner=False)
def assistants(url: str) -> tuple[AssistantRow, ...]:
    return store_for(url).list_assistants()


@st.cache_data(ttl=CACHE_S, show_spinner=False)
def conversations(
    url: str, filters: ConversationFilter, limit: int, offset: int
) -> Page[ConversationRow]:
    return store_for(url).list_conversations(filters, limit=limit, offset=offset)


@st.cache_data(ttl=CACHE_S, show_spinner=False)
def conversation_count(url: str) -> int:
    return store_for(url).count_conversations()


@st.cache_data(ttl=CACHE_S, show_spinner=False)
def messages(url: str, conversation_id: str, limit: int, offset: int) -> Page[MessageRow]:
    return store_for(url).list_messages(conversation_id, limit=limit, offset=offset)


@st.cache_data(ttl=CACHE_S, show_spinner=False)
def runs(url: str, conversation_id: str, limit: int, offset: int) -> Page[RunRow]:
    return store_for(url).list_runs(conversation_id, limit=limit, offset=offset)


@st.cache_data(ttl=CACHE_S, show_spinner=False)
def run_events(url: str, run_id: str, limit: int, offset: int) -> Page[RunEventRow]:
    return store_for(url).list_run_events(run_id, limit=limit, offset=offset)


@st.cache_data(ttl=CACHE_S, show_spinner=False)
def timeline(url: str, run_id: str) -> Timeline:
    return store_for(url).run_timeline(run_id)


def _all_runs(url: str, conversation_id: str) -> list[RunRow]:
    found: list[RunRow] = []
    while True:
        page = runs(url, conversation_id, MAX_LIMIT, len(found))
        found += page.items
        if not page.items or not page.has_more:
            return found


def _sum(rows: Sequence[RunRow], *, complete: bool = True) -> Totals:
    seconds = sum((r.duration_s or 0.0 for r in rows), start=0.0)
    return Totals(len(rows), sum(r.event_count for r in rows), seconds, complete)


@st.cache_data(ttl=CACHE_S, show_spinner=False)
def conversation_totals(url: str, conversation_id: str) -> Totals:
    return _sum(_all_runs(url, conversation_id))


@st.cache_data(ttl=CACHE_S, show_spinner=False)
def filtered_totals(url: str, filters: ConversationFilter) -> Totals:
    """The runs of the conversations matching `filters` (at most `TOTALS_SCAN` of them).

    The store has no aggregate over a filtered set yet, so this walks the runs of each
    conversation; the bound keeps a large database from stalling the page.
    """
    page = conversations(url, filters, TOTALS_SCAN, 0)
    rows = [run for c in page.items if c.run_count for run in _all_runs(url, c.id)]
    return _sum(rows, complete=not page.has_more)


@st.cache_data(ttl=CACHE_S, show_spinner=False)
def usage_totals(url: str, filters: ConversationFilter, conversation_id: str | None) -> UsageTotals:
    """Tokens and cost of one conversation, or of every conversation matching `filters`."""
    if conversation_id is not None:
        return store_for(url).usage_totals(conversation_id=conversation_id)
    return store_for(url).usage_totals(filters)


@st.cache_data(ttl=CACHE_S, show_spinner=False)
def cost_by_day(url: str, filters: ConversationFilter) -> tuple[CostPoint, ...]:
    return store_for(url).cost_by_day(filters)


def sqlite_file(url: str) -> Path | None:
    """The file a sqlite URL names (None for other databases and in-memory sqlite)."""
    database = url.partition(":///")[2].split("?", 1)[0] if url.startswith("sqlite") else ""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def stop_with_setup(headline: str, detail: str | None = None, *, create: bool = True) -> None:
    """Say what is missing and the commands that fill the database, then stop the page."""
    st.warning(headline, icon=":material/database:")
    if detail:
        st.text(detail)
    steps = [SETUP_STEPS[0]] if create else []
    st.code("\n".join([*steps, *SETUP_STEPS[1:]]), language="bash")
    st.stop()


def stop_with_error(headline: str, detail: str) -> None:
    st.error(headline, icon=":material/error:")
    st.text(detail)
    st.stop()


def open_database() -> tuple[str, str]:
    """(URL, URL to show) of a database whose schema is current; stops the page otherwise."""
    try:
        url = persistence.database_url()  # environment, then .env: the apps' one source
    except ValueError as exc:
        stop_with_error("DATABASE_URL cannot be used.", str(exc))
    try:
        shown = persistence.display_url(url)
    except Exception as exc:  # any parse failure: the URL itself is wrong
        hidden = re.sub(r"//[^@/]*@", "//***@", url)
        stop_with_error("DATABASE_URL is not a valid database URL.", f"{hidden}\n{exc}")
    path = sqlite_file(url)
    if path is not None and not path.is_file():  # connecting would create an empty file
        stop_with_setup(f"No history database yet: {path} does not exist.")
    try:
        check_schema(url)
    except persistence.SchemaNotReadyError as exc:
        stop_with_setup(f"The history database at {shown} is not set up.", str(exc))
    except persistence.DatabaseUnavailableError as exc:
        stop_with_error(f"Cannot reach the database named by DATABASE_URL ({shown}).", exc.reason)
    except persistence.SchemaError as exc:
        stop_with_error(f"The database named by DATABASE_URL ({shown}) cannot be read.", str(exc))
    except Exception as exc:  # a driver missing, a bad option...: name the setting, no traceback
        stop_with_error(f"DATABASE_URL ({shown}) cannot be opened.", f"{type(exc).__name__}: {exc}")
    return url, shown


# -- rows as tables and charts ------------------------------------------------------------


def ident(value: object) -> str:
    """An id made safe to put in markdown (ids come from the remote API)."""
    return re.sub(r"[^\w.:-]", "", str(value))[:80]


def stamp(at: datetime | None, *, ms: bool = False) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[: 23 if ms else 19] if at else ""


def snippet(text: str | None) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= SNIPPET else text[: SNIPPET - 1] + "…"


def cell(value: object) -> object:
    """A value as a grid shows it: times in UTC, long text cut short, nothing as blank."""
    if isinstance(value, datetime):
        return stamp(value)
    if isinstance(value, float):
        return f"{value:.3f} s"
    return snippet(value) if isinstance(value, str) else "" if value is None else value


def cost_cell(row: ConversationRow | RunRow, *, unknown: str = "no price") -> str:
    """Dollars; `unknown` (short, for a grid) when tokens were used on a model with no price."""
    if row.cost_usd is not None:
        return format_usd(row.cost_usd)
    return unknown if row.total_tokens else ""


def tokens_cell(row: ConversationRow | RunRow) -> str:
    return f"{row.total_tokens:,}" if row.total_tokens else ""


DERIVED = {"cost": cost_cell, "tokens": tokens_cell}  # columns computed from the whole row


def table(rows: Sequence[Any], columns: dict[str, str]) -> pd.DataFrame:
    """The `columns` (attribute, or a `DERIVED` name: heading) of `rows` as a grid's table."""
    cells = [
        [DERIVED[name](row) if name in DERIVED else cell(getattr(row, name)) for name in columns]
        for row in rows
    ]
    return pd.DataFrame(cells, columns=list(columns.values()))


CONVERSATION_COLUMNS = {
    "id": "Conversation",
    "title": "Title",
    "assistant_id": "Assistant",
    "run_count": "Runs",
    # (No message count: at 1280 px it would push a column out of sight; it shows on the
    # conversation's Messages expander, and tokens and cost matter more here.)
    "last_status": "Last status",
    "tokens": "Tokens",
    "cost": "Cost",
    "updated_at": "Updated (UTC)",
}
RUN_COLUMNS = {
    "id": "Run",
    "status": "Status",
    "started_at": "Started (UTC)",
    "duration_s": "Duration",
    "event_count": "Events",
    "tool_call_count": "Tool calls",
    "cost": "Cost",  # (tokens and the model: in the run's caption, to keep the grid in view)
    "error_code": "Error",
    "error_message": "Error message",
}
EVENT_COLUMNS = {
    "seq": "Seq",
    "type": "Type",
    "state": "State",
    "tool_name": "Tool",
    "input": "Input",
    "output": "Output",
    "code": "Error",
}


def timeline_chart(line: Timeline, origin: datetime) -> alt.Chart:
    """State intervals, tool-call spans and approval waits as bars, in ms since the user's
    message."""
    import altair as alt  # here, not at the top: the first load draws no timeline

    end = max([s.end for s in line.states] + [line.ended_at or line.started_at])
    least = max((end - origin).total_seconds() * 1000 / 150, 0.5)  # a zero-length span shows

    def bar(lane: str, kind: str, start: datetime, stop: datetime, note: str) -> tuple[Any, ...]:
        begin = (start - origin).total_seconds() * 1000
        length = (stop - start).total_seconds() * 1000
        return lane, kind, begin, begin + max(length, least), round(length, 1), note

    bars = [bar(s.state, "state", s.start, s.end, s.trigger or "") for s in line.states]
    for call in line.tool_calls:
        if start := call.start:
            kind = "tool error" if call.is_error else "tool call"
            stop = call.end or call.submitted_at or start
            bars.append(bar(f"tool: {call.name}", kind, start, stop, call.call_id))
    for wait in line.approvals:  # a person deciding: the deadline stood still meanwhile
        kind = "rejected" if wait.approved is False else "approval"
        note = f"{wait.call_id}: {wait.outcome or 'not answered'}"
        bars.append(bar(f"approval: {wait.name}", kind, wait.start, wait.end or end, note))
    lanes = list(dict.fromkeys(b[0] for b in bars))
    colours = alt.Scale(domain=list(KIND_COLOURS), range=list(KIND_COLOURS.values()))
    chart: alt.Chart = (
        alt.Chart(pd.DataFrame(bars, columns=["lane", "kind", "from", "to", "ms", "note"]))
        .mark_bar(cornerRadius=2)
        .encode(
            x=alt.X("from:Q", title="ms since the user's message"),
            x2="to:Q",
            y=alt.Y("lane:N", sort=lanes, title=None, axis=alt.Axis(labelLimit=220)),
            color=alt.Color("kind:N", scale=colours, legend=alt.Legend(orient="top", title=None)),
            tooltip=["lane:N", "kind:N", alt.Tooltip("ms:Q", title="duration (ms)"), "note:N"],
        )
        .properties(height=alt.Step(24))
    )
    return chart


# -- widgets: pages and single-selection grids ----------------------------------------------


def page_offset(key: str, size: int) -> int:
    """The offset of the page chosen in the `key` page input (drawn by `pager`)."""
    return (int(st.session_state.get(key, 1)) - 1) * size


def how_many(page: Page[Any]) -> str:
    """The page's total; a lower bound (a common word searched) shows as "at least"."""
    return f"{page.total:,}" if page.exact else f"at least {page.total:,}"


def pager(key: str, page: Page[Any], what: str) -> None:
    first = page.offset + 1 if page.items else 0
    shown = f"{first}–{page.offset + len(page.items)} of {how_many(page)} {what}"
    pages = max(1, -(-page.total // page.limit))
    if pages == 1:
        st.caption(shown)
        return
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    left.caption(shown)
    right.number_input(f"Page (of {pages})", 1, pages, step=1, key=key)


def column_width(column: dict[str, Any], frame: pd.DataFrame, id_column: str) -> dict[str, Any]:
    """Flex and minimum width: short values whole; ids and long text share what is left."""
    longest = max(len(str(v)) for v in [column["headerName"], *frame[column["field"]]])
    if column["field"] == id_column and longest > LONG_TEXT:  # whole once selected: heading
        return {"flex": 3, "minWidth": LONG_MIN_PX}
    if longest > LONG_TEXT:
        return {"flex": 8, "minWidth": LONG_MIN_PX}
    return {"flex": 1, "minWidth": round(CHAR_PX * longest + CELL_PADDING_PX)}


def aggrid_pick(frame: pd.DataFrame, key: str, current: list[int], id_column: str) -> str | None:
    options = GridOptionsBuilder.from_dataframe(frame)
    options.configure_default_column(resizable=True, filter=False, sortable=False)
    grid = options.build()
    grid.pop("autoSizeStrategy", None)
    # Selection in AG Grid's current (v32.2+) object form: the builder's configure_selection
    # still writes the deprecated flags, each of which the grid warns about in the console.
    grid["rowSelection"] = {"mode": "singleRow", "checkboxes": False, "enableClickSelection": True}
    if current:
        grid["initialState"] = {"rowSelection": [str(i) for i in current]}
    for column in grid["columnDefs"]:
        column["type"] = [t for t in column["type"] if not t.endswith("Filter")]
        column.update(column_width(column, frame, id_column))
    height = GRID_HEADER_PX + GRID_ROW_PX * max(len(frame), 1) + GRID_FRAME_PX
    response = AgGrid(frame.copy(), grid, height, key=key, update_on=["selectionChanged"])
    rows = response.selected_rows
    return None if rows is None or rows.empty else str(rows.iloc[0][id_column])


def pick(frame: pd.DataFrame, *, key: str, id_column: str, state: str) -> None:
    """Draw `frame` with single-row selection; a new selection made in it goes to `state`."""
    ids = [str(v) for v in frame[id_column]]
    current = [i for i, v in enumerate(ids) if v == str(st.session_state.get(state))]
    if st.query_params.get("grid", os.environ.get("HISTORY_GRID", "")).lower() == "dataframe":
        event = st.dataframe(
            frame,
            key=key,
            on_select="rerun",
            selection_mode="single-row",
            hide_index=True,
            selection_default={"selection": {"rows": current}},
        )
        chosen = ids[event.selection.rows[0]] if event.selection.rows else None
    else:
        chosen = aggrid_pick(frame, key, current, id_column)
    reported = f"{key}:reported"
    if chosen != st.session_state.get(reported):  # this grid's choice changed: it wins
        st.session_state[reported] = st.session_state[state] = chosen


def drill(page: Page[R], columns: dict[str, str], *, key: str, what: str, state: str) -> R | None:
    """One level: its page, its grid, and the row of this page selected in it (or None).

    The first of `columns` is the rows' id. A selection that is not on this page is cleared.
    """
    pager(f"page-{key}", page, what)
    id_attribute = next(iter(columns))
    frame = table(page.items, columns)
    pick(frame, key=f"{key}-{page.offset}", id_column=columns[id_attribute], state=state)
    selected = str(st.session_state.get(state))
    row = next((r for r in page.items if str(getattr(r, id_attribute)) == selected), None)
    if row is None:
        st.session_state[state] = None
    return row


# -- the page -------------------------------------------------------------------------------


def sidebar_filters(url: str, shown: str) -> tuple[ConversationFilter, int]:
    """The conversation filters chosen in the sidebar (as store arguments) and the page size."""
    bar = st.sidebar
    if bar.button("Refresh", icon=":material/refresh:", width="stretch"):
        st.cache_data.clear()  # every answer above; the store (engine) is kept
    bar.header("Filters")
    names = {a.id: f"{a.name} ({a.id})" if a.name else a.id for a in assistants(url)}
    assistant = bar.selectbox(
        "Assistant", [ANY, *names], key="filter_assistant", format_func=lambda v: names.get(v, v)
    )
    status = bar.selectbox(
        "Run status",
        [ANY, *(s.value for s in State if s is not State.NEW)],
        key="filter_status",
        help="Conversations with a run in this state",
    )
    left, right = bar.columns(2)
    since: date | None = left.date_input("From", value=None, key="filter_from")
    until: date | None = right.date_input("To", value=None, key="filter_to")
    text = bar.text_input(
        "Text in messages",
        key="filter_text",
        help="Conversations with a message holding every word (whole words, any case)",
    )
    size = bar.selectbox("Rows per page", PAGE_SIZES, index=1, key="page_size")
    if since and until and since > until:
        bar.warning("From is after To: dates ignored.")
        since = until = None
    bar.caption(f"Database: `{shown}`")
    return ConversationFilter(
        assistant_id=None if assistant == ANY else assistant,
        status=None if status == ANY else status,
        since=datetime.combine(since, time.min, UTC) if since else None,
        until=datetime.combine(until + timedelta(days=1), time.min, UTC) if until else None,
        text=text,  # stripped by the filter: blank is no filter
    ), int(size)


def conversation_level(
    url: str, filters: ConversationFilter, size: int
) -> tuple[Page[ConversationRow], ConversationRow | None]:
    key = f"conversations-{hashlib.sha1(repr(filters).encode()).hexdigest()[:10]}-{size}"
    offset = page_offset(f"page-{key}", size)
    page = conversations(url, filters, size, offset)
    st.subheader("Conversations")
    if not page.total:
        if conversation_count(url):
            st.info("No conversation matches these filters.")
            return page, None
        stop_with_setup("No conversations recorded yet.", create=False)
    args = {"key": key, "what": "conversations", "state": "selected_conversation"}
    return page, drill(page, CONVERSATION_COLUMNS, **args)


def conversation_detail(url: str, conversation: ConversationRow, size: int) -> RunRow | None:
    cid = conversation.id
    st.subheader(f"Conversation {ident(cid)}")
    said = messages(url, cid, size, page_offset(f"page-msgs-{cid}", size))
    with st.expander(f"Messages ({said.total})", icon=":material/forum:"):
        pager(f"page-msgs-{cid}", said, "messages")
        for message in said.items:
            st.caption(f"{ident(message.role)} · {stamp(message.created_at)} UTC")
            st.text(message.text)
    key = f"runs-{cid}-{size}"
    page = runs(url, cid, size, page_offset(f"page-{key}", size))
    if not page.items:
        st.info("No runs: this conversation's exchanges failed before a run started.")
        return None
    return drill(page, RUN_COLUMNS, key=key, what="runs", state="selected_run")


def run_usage_line(run: RunRow) -> str | None:
    """The run's model and tokens, in full: ``offline-demo · 1,109 in (128 cached) / 109 out
    tokens · no price known``."""
    if not run.total_tokens:
        return None
    usage = Usage(
        run.prompt_tokens or 0,
        run.cached_input_tokens or 0,
        run.completion_tokens or 0,
        run.reasoning_tokens or 0,
    )
    model = f"{run.model} · " if run.model else ""
    return f"{model}{usage} tokens · {cost_cell(run, unknown='no price known')}"


def run_detail(url: str, run: RunRow, size: int) -> None:
    st.subheader(f"Run {ident(run.id)}")
    if (usage := run_usage_line(run)) is not None:
        st.caption(usage)
    if run.status != State.COMPLETED:
        code = f" ({ident(run.error_code)})" if run.error_code else ""
        st.error(f"Run {ident(run.status)}{code}", icon=":material/error:")
        if run.error_message:
            st.code(run.error_message, language=None, wrap_lines=True)
    line = timeline(url, run.id)
    origin = min([s.start for s in line.states] + [line.started_at])
    st.caption("Timeline: states, tool calls and approvals")
    st.altair_chart(timeline_chart(line, origin), width="stretch")
    key = f"events-{run.id}-{size}"
    page = run_events(url, run.id, size, page_offset(f"page-{key}", size))
    if st.session_state.get("selected_event_run") != run.id:  # seqs repeat from run to run
        st.session_state["selected_event_run"], st.session_state["selected_event"] = run.id, None
    event = drill(page, EVENT_COLUMNS, key=key, what="events", state="selected_event")
    if event is None:
        st.caption("Select an event to see its whole input and output.")
        return
    after = (event.at - origin).total_seconds() * 1000
    trigger = f", trigger {ident(event.trigger)}" if event.trigger else ""
    st.markdown(
        f"**Event {event.seq}: {ident(event.type)}** in state {ident(event.state)}"
        f"{trigger}, at {stamp(event.at, ms=True)} UTC (+{after:.1f} ms)"
    )
    for label, text in (("Input", event.input), ("Output", event.output)):
        if text:
            st.caption(label)
            st.code(pretty_json(text), language=None, wrap_lines=True)


def metrics(
    box: DeltaGenerator,
    page: Page[ConversationRow],
    totals: Totals,
    usage: UsageTotals,
    conversation: ConversationRow | None,
    run: RunRow | None,
) -> None:
    """The cards, for the narrowest scope chosen: a run, a conversation, or the filters."""
    at_least = "" if totals.complete else "≥ "
    scope = (
        "the selected conversation" if conversation else "the conversations matching the filters"
    )
    usage_scope = scope
    if not totals.complete:
        scope += f" (the first {TOTALS_SCAN} counted)"
    # Two rows of three: six cards in one row cut their values short on a laptop screen.
    one, two, three = box.columns(3)
    four, five, six = box.columns(3)
    matching = "Matching the filters" + ("" if page.exact else f" (counted up to {page.total:,})")
    one.metric("Conversations", how_many(page), border=True, help=matching)
    two.metric("Runs", f"{at_least}{totals.runs}", border=True, help=f"Of {scope}")
    if run is not None:
        three.metric("Events", run.event_count, border=True, help="Of the selected run")
        took = cell(run.duration_s) if run.duration_s is not None else "running"
        four.metric("Run duration", str(took), border=True, help="Of the selected run")
        tokens, usage_scope = run.total_tokens or 0, "the selected run"
        cost = cost_cell(run)
    else:
        three.metric("Events", f"{at_least}{totals.events}", border=True, help=f"Of {scope}")
        total = f"{at_least}{cell(totals.seconds)}"
        four.metric("Run duration", total, border=True, help=f"Total of the runs of {scope}")
        tokens, cost = usage.total_tokens, usage_cost(usage)
    detail = f"Input and output tokens of {usage_scope}"
    five.metric("Tokens", f"{tokens:,}", border=True, help=detail)
    known = "; “no price”: no price is known for the model, “≥”: for some of the runs"
    six.metric("Cost", cost or "–", border=True, help=f"US dollars, {usage_scope}{known}")


def usage_cost(usage: UsageTotals) -> str:
    """The cost of a set of runs; those with no price known are said, not counted as 0."""
    if usage.cost_usd is None:
        return "no price" if usage.unpriced_runs else ""
    if usage.unpriced_runs:
        return f"≥ {format_usd(usage.cost_usd)}"
    return format_usd(usage.cost_usd)


def cost_chart(points: Sequence[CostPoint]) -> None:
    """Cost per day of the filtered conversations' runs (tokens when no price is known)."""
    import altair as alt  # here, not at the top (see `timeline_chart`)

    priced = any(p.cost_usd for p in points)
    frame = pd.DataFrame(
        {
            "day": [p.day.isoformat() for p in points],
            "cost": [p.cost_usd for p in points],
            "tokens": [p.tokens for p in points],
            "runs": [p.runs for p in points],
            "unpriced": [p.unpriced_runs for p in points],
        }
    )
    measure = "cost" if priced else "tokens"
    title = "Cost (USD)" if priced else "Tokens"
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("day:O", title="Day (UTC)", axis=alt.Axis(labelAngle=0)),
            y=alt.Y(f"{measure}:Q", title=title),
            tooltip=["day", "cost", "tokens", "runs", "unpriced"],
        )
        .properties(height=160)
        .configure_bar(size=min(60, max(8, 600 // max(len(points), 1))))
    )
    if not priced:
        st.caption("No price is known for these runs' models: tokens per day instead.")
    elif any(p.unpriced_runs for p in points):
        st.caption("Runs with no price known are left out of the cost.")
    st.altair_chart(chart, width="stretch")


def main() -> None:
    st.set_page_config("Conversation history", "🕘", layout="wide")
    st.title("Conversation history")
    st.caption("What the mediator recorded: pick a conversation, then one of its runs.")
    for name in SELECTIONS:
        st.session_state.setdefault(name, None)
    url, shown = open_database()
    filters, size = sidebar_filters(url, shown)
    header = st.container()
    try:
        page, conversation = conversation_level(url, filters, size)
        run = conversation_detail(url, conversation, size) if conversation else None
        if run is not None:
            run_detail(url, run, size)
        if conversation is not None:
            totals = conversation_totals(url, conversation.id)
        else:
            totals = filtered_totals(url, filters)
        usage = usage_totals(url, filters, conversation.id if conversation else None)
        points = cost_by_day(url, filters) if page.total else ()
    except persistence.HistoryQueryError as exc:
        stop_with_error("The history query was refused.", str(exc))
    metrics(header, page, totals, usage, conversation, run)
    if points:
        with header.expander("Cost over time", icon=":material/bar_chart:", expanded=True):
            cost_chart(points)


main()
