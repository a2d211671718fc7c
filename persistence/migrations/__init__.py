"""Alembic migrations of the persistence schema, run in code by `persistence.schema`.

``env.py`` and ``versions/`` live here, inside the package; there is no ``alembic.ini``.
Revisions are numbered ``0001``, ``0002``... and never edited once released: a change to the
schema is a new revision (and the same change in `persistence.models`).
"""
