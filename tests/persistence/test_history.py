"""The history queries on a known data set, on sqlite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from persistence import (
    ConversationFilter,
    HistoryQueryError,
    HistoryStore,
    RunNotFoundError,
    conversation_walk,
    count_conversations,
    history,
    list_conversations,
    make_engine,
    upgrade_schema,
)
from persistence.models import Assistant, Conversation, Message, Run, RunEvent, ToolCallRow
from tests.persistence.conftest import BACKENDS

T0 = datetime(2026, 3, 1, tzinfo=UTC)
CONVERSATIONS = 30
STATES = ("ready", "started", "requires_action", "tools_executed", "tool_outputs_submitted")


def runs_of(i: int) -> int:
    return i % 4 + 1


def assistant_of(i: int) -> str | None:
    return None if i % 3 == 2 else ("asst_a" if i % 3 == 0 else "asst_b")


def created(i: int) -> datetime:
    return T0 + timedelta(hours=i)


def _run_rows(session: Session, i: int, conversation: str) -> None:
    for k in range(runs_of(i)):
        run_id = f"run_{i:02d}_{k}"
        start = created(i) + timedelta(minutes=k)
        failed = i % 5 == 0 and k == runs_of(i) - 1
        end = start + timedelta(seconds=10)
        session.add(
            Run(
                id=run_id,
                conversation_id=conversation,
                status="failed" if failed else "completed",
                started_at=start,
                ended_at=end,
                duration_s=10.0,
                error_message="boom" if failed else None,
                error_code="server_error" if failed else None,
            )
        )
        session.flush()  # no ORM relationships: insert the run before its rows
        stock = "AAPL" if i % 2 == 0 else "TSLA"
        for n, (role, words) in enumerate(
            (("user", f"Question {i} {k} about {stock}?"), ("assistant", f"{stock} answer."))
        ):
            session.add(
                Message(
                    event_uuid=f"m{i:02d}{k}{n}".ljust(32, "0"),
                    conversation_id=conversation,
                    run_id=run_id,
                    role=role,
                    text=words,
                    created_at=start + timedelta(seconds=n),
                )
            )
        final = "failed" if failed else "completed"
        for seq, state in enumerate((*STATES, final)):
            session.add(
                RunEvent(
                    event_uuid=f"e{i:02d}{k}{seq}".ljust(32, "0"),
                    conversation_id=conversation,
                    run_id=run_id,
                    seq=seq,
                    type="StateChanged",
                    topic="stateChanged",
                    state=state,
                    trigger=None,
                    at=start + timedelta(seconds=2 * seq),
                )
            )
        if i % 2 == 0:
            session.add(
                ToolCallRow(
                    run_id=run_id,
                    call_id=f"call_{i}_{k}",
                    conversation_id=conversation,
                    name="get_stock_price",
                    arguments="{}",
                    output="{}",
                    is_error=False,
                    requested_at=start + timedelta(seconds=4),
                    executed_at=start + timedelta(seconds=5),
                    submitted_at=start + timedelta(seconds=6),
                )
            )


def seed(engine: Engine) -> None:
    with Session(engine) as session:
        session.add_all(
            [
                Assistant(
                    id="asst_a",
                    name="Alpha",
                    model="m",
                    instructions="",
                    tools=[],
                    backend="assistants",
                    created_at=T0,
                ),
                Assistant(
                    id="asst_b",
                    name="Beta",
                    model="m",
                    instructions="",
                    tools=[],
                    backend="responses",
                    created_at=T0,
                ),
            ]
        )
        for i in range(CONVERSATIONS):
            conversation = f"thread_{i:02d}"
            session.add(
                Conversation(
                    id=conversation,
                    session_id=f"s{i}",
                    assistant_id=assistant_of(i),
                    title=f"Question {i}",
                    created_at=created(i),
                    updated_at=created(i) + timedelta(minutes=30 if i % 2 else 90),
                )
            )
            session.flush()
            _run_rows(session, i, conversation)
        session.commit()


@pytest.fixture(scope="module", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('history')}/history.db"
    else:
        url = str(request.getfixturevalue("pg_module_url"))
    engine = make_engine(url)
    upgrade_schema(engine)
    seed(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def store(engine: Engine) -> HistoryStore:
    return HistoryStore(engine)


def by_updated_desc(ids: list[int]) -> list[str]:
    updated = {i: created(i) + timedelta(minutes=30 if i % 2 else 90) for i in ids}
    return [f"thread_{i:02d}" for i in sorted(ids, key=lambda i: (updated[i], i), reverse=True)]


def test_pages_cover_every_conversation_once_newest_update_first(store: HistoryStore) -> None:
    seen: list[str] = []
    offset = 0
    while True:
        page = store.list_conversations(limit=7, offset=offset)
        assert page.total == CONVERSATIONS
        seen += [c.id for c in page.items]
        offset += len(page.items)
        if not page.has_more:
            break
    assert seen == by_updated_desc(list(range(CONVERSATIONS)))
    assert len(store.list_conversations(limit=7, offset=28)) == 2
    assert store.list_conversations(offset=100).items == ()


def test_order_by_created(store: HistoryStore) -> None:
    page = store.list_conversations(order="created", limit=3)
    assert [c.id for c in page.items] == ["thread_29", "thread_28", "thread_27"]


def test_counts_and_last_status_per_conversation(store: HistoryStore) -> None:
    rows = {c.id: c for c in store.list_conversations(limit=500).items}
    for i in range(CONVERSATIONS):
        row = rows[f"thread_{i:02d}"]
        assert (row.run_count, row.message_count) == (runs_of(i), 2 * runs_of(i))
        assert row.last_status == ("failed" if i % 5 == 0 else "completed")
        assert row.title == f"Question {i}"
        assert row.created_at == created(i)
        assert row.created_at.tzinfo is not None


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"assistant_id": "asst_a"}, [i for i in range(CONVERSATIONS) if i % 3 == 0]),
        ({"status": "failed"}, [i for i in range(CONVERSATIONS) if i % 5 == 0]),
        ({"since": T0 + timedelta(hours=27)}, [26, 27, 28, 29]),
        ({"until": T0 + timedelta(hours=2)}, [0, 1]),
        ({"since": T0 + timedelta(hours=10), "until": T0 + timedelta(hours=12)}, [10, 11]),
        ({"text": "tsla"}, [i for i in range(CONVERSATIONS) if i % 2]),
        ({"text": "  question 7 about  "}, [7]),
        ({"text": "AAPL", "assistant_id": "asst_b", "status": "failed"}, [10]),
        ({"text": "nothing-like-this"}, []),
        ({"text": 'AND OR NOT "(*'}, []),
        ({"text": "   "}, list(range(CONVERSATIONS))),
        # Whole words, any case, every word in one message.
        ({"text": "Tsla"}, [i for i in range(CONVERSATIONS) if i % 2]),
        ({"text": "tsl"}, []),
        ({"text": "aapl answer"}, [i for i in range(CONVERSATIONS) if i % 2 == 0]),
        ({"text": "question answer"}, []),
        ({"text": "tsla", "status": "failed"}, [i for i in range(CONVERSATIONS) if i % 10 == 5]),
    ],
)
def test_filters(store: HistoryStore, filters: dict[str, object], expected: list[int]) -> None:
    page = store.list_conversations(limit=500, **filters)  # type: ignore[arg-type]
    assert [c.id for c in page.items] == by_updated_desc(expected)
    assert page.total == len(expected) == store.count_conversations(**filters)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, list(range(CONVERSATIONS))),
        ({"assistant_id": "asst_a"}, [i for i in range(CONVERSATIONS) if i % 3 == 0]),
        ({"status": "failed"}, [i for i in range(CONVERSATIONS) if i % 5 == 0]),
        ({"since": T0 + timedelta(hours=10), "until": T0 + timedelta(hours=12)}, [10, 11]),
        ({"text": " tsla ", "status": "failed"}, [5, 15, 25]),
        ({"text": "nothing-like-this"}, []),
    ],
)
def test_one_filter_object_for_the_list_its_count_and_its_usage(
    store: HistoryStore, filters: dict[str, Any], expected: list[int]
) -> None:
    where = ConversationFilter(**filters)
    page = store.list_conversations(where, limit=500)
    assert [c.id for c in page.items] == by_updated_desc(expected)
    assert page == store.list_conversations(limit=500, **filters)
    assert page.total == store.count_conversations(where) == len(expected)
    with Session(store.engine) as session:
        assert list_conversations(session, where, limit=500) == page
        assert count_conversations(session, where) == len(expected)
    # The usage of the same conversations: every run of each, on the day it started.
    runs = sum(runs_of(i) for i in expected)
    assert store.usage_totals(where) == store.usage_totals(**filters)
    assert store.usage_totals(where).runs == runs
    assert sum(point.runs for point in store.cost_by_day(where)) == runs
    assert store.cost_by_day(where) == store.cost_by_day(**filters)


def test_a_filter_given_twice_is_refused(store: HistoryStore) -> None:
    where = ConversationFilter(status="failed")
    for query in (store.list_conversations, store.count_conversations, store.usage_totals,
                  store.cost_by_day):  # fmt: skip
        with pytest.raises(HistoryQueryError, match="not both"):
            query(where, text="tsla")


@pytest.fixture
def sent(store: HistoryStore) -> Iterator[list[str]]:
    """The queries (SELECTs) the store sends during the test, in order."""
    recorded: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):  # not sqlite's BEGIN
            recorded.append(statement)

    event.listen(store.engine, "before_cursor_execute", record)
    yield recorded
    event.remove(store.engine, "before_cursor_execute", record)


def test_a_page_is_its_ids_with_the_count_then_its_rows(
    store: HistoryStore, sent: list[str]
) -> None:
    """Two statements for the first page (the count is a column of the ids' statement)."""
    page = store.list_conversations(limit=5)
    assert (page.total, page.exact, len(page)) == (CONVERSATIONS, True, 5)
    assert len(sent) == 2, sent
    assert "count(*)" in sent[0].lower()
    sent.clear()
    # A page past the end has no row to carry the count: it is asked for alone.
    past = store.list_conversations(limit=5, offset=CONVERSATIONS)
    assert (past.items, past.total, past.has_more) == ((), CONVERSATIONS, False)
    assert len(sent) == 2, sent
    sent.clear()
    nothing = store.list_conversations(assistant_id="asst_nobody")
    assert (nothing.items, nothing.total) == ((), 0)


@pytest.fixture
def small_sets(monkeypatch: pytest.MonkeyPatch) -> int:
    """Sets of more than 3 conversations count as large (walked), in chunks from 2."""
    monkeypatch.setattr(history, "SET_LIMIT", 3)
    monkeypatch.setattr(conversation_walk, "_FIRST_CHUNK", 2)
    return 3


def every_page(store: HistoryStore, size: int, **filters: Any) -> list[str]:
    seen: list[str] = []
    while True:
        page = store.list_conversations(limit=size, offset=len(seen), **filters)
        assert page.items or not page.has_more, f"an empty page with more after {seen}"
        seen += [c.id for c in page.items]
        if not page.has_more:
            return seen


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"status": "failed"}, [i for i in range(CONVERSATIONS) if i % 5 == 0]),
        ({"status": "failed", "assistant_id": "asst_a"}, [0, 15]),
        ({"text": "tsla"}, [i for i in range(CONVERSATIONS) if i % 2]),
        ({"text": "Question"}, list(range(CONVERSATIONS))),
        ({"text": "tsla", "status": "failed"}, [5, 15, 25]),
        ({"text": "tsla", "since": T0 + timedelta(hours=20)}, [21, 23, 25, 27, 29]),
        ({"text": "question 7 about"}, [7]),
    ],
)
def test_filters_matching_many_conversations_are_walked_in_order(
    store: HistoryStore, small_sets: int, filters: dict[str, Any], expected: list[int]
) -> None:
    for size in (1, 4, 500):
        assert every_page(store, size, **filters) == by_updated_desc(expected)
    page = store.list_conversations(limit=4, **filters)
    assert page.total == store.count_conversations(**filters) or not page.exact
    if page.exact:
        assert page.total == len(expected)
    else:  # a lower bound, past what the page shows
        assert len(expected) > small_sets
        assert small_sets < page.total <= len(expected)
        assert page.has_more


def test_a_large_status_set_is_counted_beside_the_ids(
    store: HistoryStore, small_sets: int, sent: list[str]
) -> None:
    page = store.list_conversations(status="failed", limit=2)
    assert (page.total, page.exact) == (6, True)
    assert [c.id for c in page.items] == by_updated_desc([0, 5, 10, 15, 20, 25])[:2]
    assert len(sent) == 3, sent  # the set (past its limit), the ids with the count, the rows
    with_assistant = store.list_conversations(status="failed", assistant_id="asst_a", limit=1)
    assert (with_assistant.total, with_assistant.exact) == (2, True)


def test_a_common_word_is_counted_up_to_the_limit(store: HistoryStore, small_sets: int) -> None:
    """More than `SET_LIMIT` matches: "at least 4", not a lookup per message."""
    page = store.list_conversations(text="tsla", limit=2)
    assert (page.exact, page.total, page.has_more) == (False, 4, True)
    assert store.count_conversations(text="tsla") == 4
    deeper = store.list_conversations(text="tsla", limit=2, offset=6)
    assert (deeper.exact, deeper.total, deeper.has_more) == (False, 9, True)
    last = store.list_conversations(text="tsla", limit=2, offset=14)
    assert [c.id for c in last.items] == ["thread_01"]
    assert not last.has_more
    # A status alone is counted exactly on its index, however many.
    failed = store.list_conversations(status="failed", limit=2)
    assert (failed.exact, failed.total) == (True, 6)


def test_runs_of_a_conversation_with_counts(store: HistoryStore) -> None:
    page = store.list_runs("thread_10")
    assert [r.id for r in page.items] == ["run_10_0", "run_10_1", "run_10_2"]
    assert [r.status for r in page.items] == ["completed", "completed", "failed"]
    assert all(r.event_count == 6 and r.tool_call_count == 1 for r in page.items)
    assert page.items[-1].error_code == "server_error"
    assert [r.id for r in store.list_runs("thread_10", newest_first=True, limit=1).items] == [
        "run_10_2"
    ]
    assert [r.id for r in store.list_runs("thread_10", status="failed").items] == ["run_10_2"]
    assert store.count_runs("thread_10") == 3
    assert store.list_runs("thread_nope").items == ()


def test_run_events_in_seq_order_paginated(store: HistoryStore) -> None:
    first = store.list_run_events("run_03_1", limit=4)
    rest = store.list_run_events("run_03_1", limit=4, offset=4)
    assert first.total == 6
    assert first.has_more
    assert not rest.has_more
    assert [e.seq for e in first.items + rest.items] == list(range(6))
    assert [e.state for e in first.items + rest.items] == [*STATES, "completed"]
    assert store.list_run_events("run_unknown").items == ()


def test_messages_in_order(store: HistoryStore) -> None:
    page = store.list_messages("thread_01", limit=500)
    assert [(m.role, m.text) for m in page.items] == [
        ("user", "Question 1 0 about TSLA?"),
        ("assistant", "TSLA answer."),
        ("user", "Question 1 1 about TSLA?"),
        ("assistant", "TSLA answer."),
    ]


def test_assistants_with_their_conversation_counts(store: HistoryStore) -> None:
    assistants = store.list_assistants()
    assert [(a.id, a.name, a.conversation_count) for a in assistants] == [
        ("asst_a", "Alpha", 10),
        ("asst_b", "Beta", 10),
    ]


def test_timeline_has_state_intervals_and_tool_spans(store: HistoryStore) -> None:
    timeline = store.run_timeline("run_04_0")
    assert [s.state for s in timeline.states] == [*STATES, "completed"]
    start = created(4)
    assert [(s.start - start).total_seconds() for s in timeline.states] == [0, 2, 4, 6, 8, 10]
    assert [(s.end - start).total_seconds() for s in timeline.states] == [2, 4, 6, 8, 10, 10]
    (tool,) = timeline.tool_calls
    assert tool.start is not None
    assert tool.end is not None
    assert ((tool.start - start).total_seconds(), (tool.end - start).total_seconds()) == (4, 5)
    with pytest.raises(RunNotFoundError, match="run_nope"):
        store.run_timeline("run_nope")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"limit": 0},
        {"limit": 501},
        {"limit": True},
        {"offset": -1},
        {"status": "exploded"},
        {"since": datetime(2026, 1, 1)},  # naive on purpose
        {"since": T0 + timedelta(days=2), "until": T0},
    ],
)
def test_bad_input_is_a_clear_error(store: HistoryStore, kwargs: dict[str, object]) -> None:
    with pytest.raises(HistoryQueryError) as info:
        store.list_conversations(**kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    with pytest.raises(HistoryQueryError, match="limit must be an integer from 1 to 500"):
        store.list_run_events("run_00_0", limit=1000)


def test_rows_are_frozen_and_outlive_the_session(engine: Engine) -> None:
    with Session(engine) as session:
        page = list_conversations(session, limit=2)
        assert count_conversations(session) == CONVERSATIONS
    row = page.items[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.title = "changed"  # type: ignore[misc]
    assert row.id == "thread_29"


def test_postgresql_text_search_uses_its_gin_index(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the GIN index exists on PostgreSQL only")
    from sqlalchemy import select

    from persistence.conversation_search import message_match

    with Session(engine) as session:
        session.execute(text("SET LOCAL enable_seqscan = off"))
        stmt = select(Message.id).where(message_match(session, "tsla"))
        compiled = stmt.compile(engine, compile_kwargs={"literal_binds": True})
        plan = "\n".join(r[0] for r in session.execute(text(f"EXPLAIN {compiled}")))
    assert "ix_messages_text_search" in plan
