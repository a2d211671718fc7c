"""Cursor paging in isolation: every item once, in order, whatever the page size."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.common.errors import ApiError
from emulator.common.paging import ListQuery, page


def items(count: int) -> list[dict[str, Any]]:
    return [{"id": f"x{i}"} for i in range(count)]


@given(count=st.integers(0, 40), limit=st.integers(1, 100), order=st.sampled_from(["asc", "desc"]))
def test_following_after_cursors_visits_every_item_once(count: int, limit: int, order: str) -> None:
    data = items(count)
    seen: list[object] = []
    after = None
    for _ in range(count + 2):
        result = page(data, ListQuery(limit=limit, order=order, after=after))  # type: ignore[arg-type]
        seen.extend(item["id"] for item in result["data"])
        if not result["has_more"]:
            break
        after = result["last_id"]
    expected = [item["id"] for item in data]
    assert seen == (expected if order == "asc" else expected[::-1])


@given(count=st.integers(1, 40), limit=st.integers(1, 100), data=st.data())
def test_before_gives_the_items_immediately_preceding(
    count: int, limit: int, data: st.DataObject
) -> None:
    position = data.draw(st.integers(0, count - 1))
    ids = [item["id"] for item in items(count)]
    result = page(items(count), ListQuery(limit=limit, order="asc", before=ids[position]))
    assert [item["id"] for item in result["data"]] == ids[max(0, position - limit) : position]
    assert result["has_more"] == (position > limit)


@pytest.mark.parametrize(
    ("params", "param"),
    [({"limit": "101"}, "limit"), ({"limit": "x"}, "limit"), ({"order": "up"}, "order")],
)
def test_bad_query_parameters_are_400s(params: dict[str, str], param: str) -> None:
    with pytest.raises(ApiError) as caught:
        ListQuery.from_params(params)
    assert (caught.value.status, caught.value.param) == (400, param)
