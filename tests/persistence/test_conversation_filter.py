"""`ConversationFilter`: validated once, compared and hashed by value (the page's cache key)."""

from __future__ import annotations

import dataclasses
import pickle
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from mediator.script import State
from persistence import ConversationFilter, HistoryQueryError
from persistence.conversation_filter import filter_of

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_equal_filters_are_one_cache_key() -> None:
    a = ConversationFilter(status="failed", since=T0, text="tsla")
    b = ConversationFilter(status="failed", since=T0, text="tsla")
    assert a == b
    assert hash(a) == hash(b)
    assert {a: "page"}[b] == "page"
    assert a != ConversationFilter(status="failed", since=T0, text="aapl")
    assert ConversationFilter() == ConversationFilter()
    assert pickle.loads(pickle.dumps(a)) == a  # as Streamlit's cache keeps it


def test_same_instant_in_another_zone_is_the_same_filter() -> None:
    paris = T0.astimezone(timezone(timedelta(hours=1)))
    assert ConversationFilter(since=paris) == ConversationFilter(since=T0)
    assert hash(ConversationFilter(since=paris)) == hash(ConversationFilter(since=T0))


def test_text_is_stripped_and_blank_text_is_no_filter() -> None:
    assert ConversationFilter(text="  tsla  ").text == "tsla"
    assert ConversationFilter(text="  tsla  ") == ConversationFilter(text="tsla")
    assert ConversationFilter(text="   ") == ConversationFilter(text="") == ConversationFilter()
    assert ConversationFilter(text="").text is None


def test_a_state_is_kept_as_its_value() -> None:
    given = ConversationFilter(status=State.FAILED)
    assert given == ConversationFilter(status="failed")
    assert hash(given) == hash(ConversationFilter(status="failed"))
    assert type(given.status) is str


def test_frozen() -> None:
    where = ConversationFilter(status="failed")
    with pytest.raises(dataclasses.FrozenInstanceError):
        where.status = "completed"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": "exploded"}, r"unknown status 'exploded'; choose from new, ready"),
        ({"status": 3}, r"status must be a string or None, got 3"),
        ({"assistant_id": 42}, r"assistant_id must be a string or None, got 42"),
        ({"text": ["tsla"]}, r"text must be a string or None, got \['tsla'\]"),
        ({"since": datetime(2026, 1, 1)}, r"since must be timezone-aware"),  # naive on purpose
        ({"until": datetime(2026, 1, 1)}, r"until must be timezone-aware"),  # naive on purpose
        ({"since": "2026-01-01"}, r"since must be a datetime or None, got '2026-01-01'"),
        ({"until": date(2026, 1, 1)}, r"until must be a datetime or None"),
        ({"since": T0 + timedelta(days=2), "until": T0}, r"since \(2026-03-03.*\) is after until"),
    ],
)
def test_bad_input_is_refused_naming_the_field(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(HistoryQueryError, match=message) as info:
        ConversationFilter(**fields)
    assert isinstance(info.value, ValueError)


def test_a_range_of_one_instant_is_allowed() -> None:
    assert ConversationFilter(since=T0, until=T0).until == T0


def test_filter_of_takes_the_object_or_its_fields_not_both() -> None:
    where = ConversationFilter(status="failed")
    assert filter_of(where, {}) is where
    assert filter_of(where, {"text": None}) is where  # a field left at its default
    assert filter_of(None, {"status": "failed"}) == where
    assert filter_of(None, {}) == ConversationFilter()
    with pytest.raises(HistoryQueryError, match=r"not both \(got where and \['text'\]\)"):
        filter_of(where, {"text": "tsla"})
    with pytest.raises(HistoryQueryError, match="where must be a ConversationFilter"):
        filter_of({"status": "failed"}, {})  # type: ignore[arg-type]
    with pytest.raises(HistoryQueryError, match="unknown status"):
        filter_of(None, {"status": "exploded"})
