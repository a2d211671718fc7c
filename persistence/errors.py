"""Errors of the persistence package.

    PersistenceError                 anything this package raises on purpose
    ├── DatabaseUnavailableError     the database could not be reached (URL shown without password)
    ├── SchemaError                  the schema is missing, behind, ahead of, or foreign to the code
    │   └── SchemaNotReadyError      missing or behind head: run ``python db_setup.py``
    └── HistoryQueryError            a history query got bad input (a `ValueError` too)
        └── RunNotFoundError         no run with that id

The recorder never raises for a database problem once started: it logs, keeps the events in
memory and retries. These errors come from setup (`Recorder.start`, `db_setup.py`) and from the
history queries.
"""

from __future__ import annotations

from mediator.errors import ToolkitError

__all__ = [
    "DatabaseUnavailableError",
    "HistoryQueryError",
    "PersistenceError",
    "RunNotFoundError",
    "SchemaError",
    "SchemaNotReadyError",
]


class PersistenceError(ToolkitError):
    """Base class of every error the persistence package raises."""


class DatabaseUnavailableError(PersistenceError):
    """The database at `url` could not be reached.

    Attributes:
        url: the database URL with any password hidden.
    """

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach the database at {url}: {reason}")
        self.url = url
        self.reason = reason


class SchemaError(PersistenceError):
    """The database schema does not match what this code expects.

    Attributes:
        url: the database URL with any password hidden.
        current: the revision the database is at (None when it has no schema).
        head: the revision this code expects.
    """

    def __init__(self, message: str, *, url: str, current: str | None, head: str) -> None:
        super().__init__(message)
        self.url = url
        self.current = current
        self.head = head


class SchemaNotReadyError(SchemaError):
    """The schema is missing or behind head; ``python db_setup.py`` creates or upgrades it."""


class HistoryQueryError(PersistenceError, ValueError):
    """A history query was given bad input (a limit out of range, a reversed date range...)."""


class RunNotFoundError(HistoryQueryError, LookupError):
    """No run has the id `run_id`."""

    def __init__(self, run_id: str) -> None:
        super().__init__(f"no run with id {run_id!r}")
        self.run_id = run_id
