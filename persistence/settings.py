"""The persistence section of the settings: which database, and whether to record at all.

Read from the one source every package shares (environment, then `.env`); see
`tools.settings`. A ``DATABASE_URL`` is checked when the settings are loaded, so a typo is a
one-line configuration error at start-up, not a traceback at the first event.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from pydantic import Field, field_validator

from tools.settings import SettingsSection, blank_is_unset

__all__ = [
    "DEFAULT_DATABASE_URL",
    "SUPPORTED_BACKENDS",
    "PersistenceSettings",
    "check_database_url",
]

DEFAULT_DATABASE_URL: Final = "sqlite:///dbstorage/assistant_mediator.db"

SUPPORTED_BACKENDS = ("sqlite", "postgresql")


def check_database_url(url: str) -> str:
    """`url` if the recorder can use it; `ValueError` naming the problem otherwise.

    The folder of a sqlite file must exist (the default ``dbstorage/`` is made on first use):
    a mistyped path must not quietly create folders elsewhere, at the filesystem root say.
    """
    # SQLAlchemy only when a URL is given: reading the settings must not import it.
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError(
            "not a database URL (expected e.g. sqlite:///path/to/file.db or "
            "postgresql+psycopg://user@host/db)"
        ) from None
    backend = parsed.get_backend_name()
    if backend not in SUPPORTED_BACKENDS:
        raise ValueError(f"the recorder supports sqlite and postgresql, not {backend}")
    database = parsed.database or ""
    if (
        backend == "sqlite"
        and database not in ("", ":memory:")
        and not database.startswith("file:")
    ):
        folder = Path(database).parent
        if not folder.is_dir():
            raise ValueError(f"the folder {str(folder)!r} of the sqlite file does not exist")
    return url


class PersistenceSettings(SettingsSection):
    """``DATABASE_URL`` and ``RECORD_EVENTS``."""

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    record_events: bool = Field(default=True, alias="RECORD_EVENTS")

    @field_validator("database_url", mode="before")
    @classmethod
    def _usable_url(cls, value: object) -> object:
        value = blank_is_unset(value)
        return check_database_url(value) if isinstance(value, str) else value
