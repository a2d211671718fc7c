"""Cursor paging for list endpoints: ``limit``, ``order``, ``after``, ``before``.

Items arrive in insertion order, which is the emulator's monotonic sequence (creation times in
whole seconds tie too often to sort on). `after=X` gives the items strictly after X in the
requested order; `before=X` gives the `limit` items immediately preceding X, in that order.
`has_more` says whether more items lie beyond the page in the direction of travel.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .errors import bad_request
from .wire import JsonObj

__all__ = ["ListQuery", "page"]

MAX_LIMIT = 100
DEFAULT_LIMIT = 20


@dataclass(frozen=True, slots=True)
class ListQuery:
    limit: int = DEFAULT_LIMIT
    order: Literal["asc", "desc"] = "desc"
    after: str | None = None
    before: str | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> ListQuery:
        """Parse query parameters; a bad value is a 400 naming the parameter."""
        limit = _parse_limit(params.get("limit"))
        order = params.get("order", "desc")
        if order not in ("asc", "desc"):
            raise bad_request(
                f"Invalid value for 'order': expected one of 'asc' or 'desc', got '{order}'.",
                param="order",
                code="invalid_value",
            )
        return cls(
            limit=limit,
            order="asc" if order == "asc" else "desc",
            after=params.get("after") or None,
            before=params.get("before") or None,
        )


def _parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        raise bad_request(
            f"Invalid 'limit': expected an integer, but got '{raw}' instead.",
            param="limit",
            code="invalid_type",
        ) from None
    if limit > MAX_LIMIT:
        raise bad_request(
            "Invalid 'limit': integer above maximum value. "
            f"Expected a value <= {MAX_LIMIT}, but got {limit} instead.",
            param="limit",
            code="integer_above_max_value",
        )
    if limit < 1:
        raise bad_request(
            "Invalid 'limit': integer below minimum value. "
            f"Expected a value >= 1, but got {limit} instead.",
            param="limit",
            code="integer_below_min_value",
        )
    return limit


def _position(ids: list[str], cursor: str, param: str) -> int:
    try:
        return ids.index(cursor)
    except ValueError:
        raise bad_request(
            f"Invalid '{param}': no object with id '{cursor}' in this list.", param=param
        ) from None


def page(
    items: Sequence[JsonObj], query: ListQuery, *, empty_id: str | None = None
) -> dict[str, Any]:
    """One page of `items` (given oldest first) as the list envelope. An empty page has
    `empty_id` as ``first_id``/``last_id``: null for Assistants lists, "" where the SDK types
    them as strings (conversation items, response input items)."""
    ordered = list(items) if query.order == "asc" else list(reversed(items))
    ids = [item["id"] for item in ordered]
    start, stop = 0, len(ordered)
    if query.after is not None:
        start = _position(ids, query.after, "after") + 1
    if query.before is not None:
        stop = _position(ids, query.before, "before")
    window = ordered[start:stop] if start < stop else []
    if query.before is not None and query.after is None:
        data = window[-query.limit :]
        has_more = len(window) > len(data)
    else:
        data = window[: query.limit]
        has_more = len(window) > len(data)
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else empty_id,
        "last_id": data[-1]["id"] if data else empty_id,
        "has_more": has_more,
    }
