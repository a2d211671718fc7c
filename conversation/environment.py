"""`import conversation` makes `.env` visible in `os.environ`, as the seed's snippet expects.

The seed reads its assistant id with ``os.environ["ASSISTANT_ID"]`` right after importing the
toolkit, with the id kept in `.env`. So importing `conversation` (the application-facing
package; the library packages below it never do this) copies the variables of `.env` in the
working directory into `os.environ`, never replacing one already set: the environment still
wins, as it does for the settings. Nothing is written anywhere. Set
``ASSISTANT_MEDIATOR_NO_DOTENV=1`` to keep `os.environ` exactly as the process started (the
test suite does).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

__all__ = ["OPT_OUT", "expose_dotenv"]

OPT_OUT: Final = "ASSISTANT_MEDIATOR_NO_DOTENV"


def expose_dotenv(path: Path = Path(".env")) -> None:
    """Copy `path`'s variables into `os.environ` where unset (a missing file is fine)."""
    if os.environ.get(OPT_OUT, "").strip().lower() in ("1", "true", "yes"):
        return
    if not path.is_file():
        return
    from dotenv import dotenv_values

    for name, value in dotenv_values(path).items():
        if value is not None and name not in os.environ:
            os.environ[name] = value
