"""Create or upgrade the conversation database's schema. Safe to run again.

    python db_setup.py                                   # DATABASE_URL, or the default sqlite file
    python db_setup.py --url postgresql+psycopg://user@host/db
    python db_setup.py --revision 0001                   # a given revision, not head

The database comes from ``--url``, else ``DATABASE_URL`` (environment, then ``.env``), else
``sqlite:///dbstorage/assistant_mediator.db``. Prints what it did: "created schema at revision
...", "upgraded 0001 -> 0002 ..." or "already at head ..., nothing to do". Exits 1 with the
reason when the database cannot be reached or holds a schema this code cannot manage.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from dotenv import dotenv_values

from persistence import PersistenceError, database_url, make_engine, upgrade_schema


def _url(given: str | None) -> str:
    if given:
        return given
    environ = dict(os.environ)
    if not environ.get("DATABASE_URL") and Path(".env").is_file():
        from_file = dotenv_values(".env").get("DATABASE_URL")
        if from_file:
            environ["DATABASE_URL"] = from_file
    return database_url(environ)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: DATABASE_URL or the sqlite file)")
    parser.add_argument("--revision", default="head", help="target revision (default: head)")
    args = parser.parse_args(argv)
    engine = make_engine(_url(args.url))
    try:
        change = upgrade_schema(engine, args.revision)
    except PersistenceError as exc:
        print(f"db_setup: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(change.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
