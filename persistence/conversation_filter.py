"""`ConversationFilter`: which conversations the history lists, as one frozen value.

The history page builds one from its sidebar and hands it as it is to `HistoryStore`, which
hands it to `persistence.history` (the list, its count) and `persistence.usage_history` (the
totals and the cost per day of the same conversations). Bad input is refused here, once, when
the filter is made: a `HistoryQueryError` naming the field. Filters are compared and hashed by
value, so one can key a cache; the text is stripped first, and blank text is no filter.

The public query functions also take the fields as keyword arguments, as they always have
(`FilterFields`): `filter_of` turns them into the filter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from persistence.errors import HistoryQueryError
from persistence.history_rows import check_range, check_status

__all__ = ["ConversationFilter", "FilterFields", "filter_of"]


@dataclass(frozen=True, slots=True)
class ConversationFilter:
    """Conversations matching every field given (None: that field does not filter).

    - `assistant_id`: started with that assistant;
    - `status`: with at least one run in that mediator state (``failed``...);
    - `since`: active at or after it (``updated_at >= since``); `until`: begun before it
      (``created_at < until``); together, the conversations overlapping the range. Both
      timezone-aware, `since` not after `until`;
    - `text`: a message contains every word of it (whole words, any case).
    """

    assistant_id: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        for name in ("assistant_id", "status", "text"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise HistoryQueryError(f"{name} must be a string or None, got {value!r}")
        check_status(self.status)
        check_range(self.since, self.until)
        if self.status is not None:
            object.__setattr__(self, "status", str(self.status))  # a State is its value
        if self.text is not None:
            object.__setattr__(self, "text", self.text.strip() or None)


class FilterFields(TypedDict, total=False):
    """The fields of a `ConversationFilter`, as keyword arguments of the public queries."""

    assistant_id: str | None
    status: str | None
    since: datetime | None
    until: datetime | None
    text: str | None


def filter_of(where: ConversationFilter | None, keywords: FilterFields) -> ConversationFilter:
    """`where`, or the filter the keyword arguments describe; not both."""
    if where is None:
        return ConversationFilter(**keywords)
    if not isinstance(where, ConversationFilter):
        raise HistoryQueryError(f"where must be a ConversationFilter, got {where!r}")
    given = [name for name, value in keywords.items() if value is not None]
    if given:
        raise HistoryQueryError(
            f"filter with `where` or with keyword arguments, not both (got where and {given})"
        )
    return where
