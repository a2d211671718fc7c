"""Create or upgrade the conversation database's schema. Safe to run again.

    python db_setup.py                                   # DATABASE_URL, or the default sqlite file
    python db_setup.py --url postgresql+psycopg://user@host/db
    python db_setup.py --revision 0001                   # a given revision, not head

The database comes from ``--url``, else ``DATABASE_URL`` (environment, then ``.env``), else
``sqlite:///dbstorage/assistant_mediator.db``. Prints what it did: "created schema at revision
...", "upgraded 0001 -> 0002 ..." or "already at head ..., nothing to do". Exits 1 with the
reason when the database cannot be reached or holds a schema this code cannot manage, and 2
with one line naming ``DATABASE_URL`` when the URL itself is unusable.
"""

from __future__ import annotations

import argparse
import sys

from persistence import PersistenceError, database_url, make_engine, upgrade_schema


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: DATABASE_URL or the sqlite file)")
    parser.add_argument("--revision", default="head", help="target revision (default: head)")
    args = parser.parse_args(argv)
    try:  # the same settings source as every app: environment, then .env
        url = database_url({"DATABASE_URL": args.url}) if args.url else database_url()
    except ValueError as exc:
        print(f"db_setup: {exc}", file=sys.stderr)
        return 2
    engine = make_engine(url)
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
