"""Assistant definitions for the Responses protocol, which has no assistant object.

The demo assistant is always known under its fixed id; definitions made by
`assistant_setup.py` are stored in the database and found there.
"""

from __future__ import annotations

import functools
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from conversation.demo import DEMO_ASSISTANT_ID, demo_definition
from proxies.backends.base import AssistantCatalog, AssistantDefinition

if TYPE_CHECKING:
    from persistence import AssistantStore


class MemoryCatalog:
    """Definitions held in this process (tests, and the built-in demo)."""

    #: Looked up inline: a worker thread would cost more than the dict lookup.
    blocks = False

    def __init__(self, definitions: dict[str, AssistantDefinition] | None = None) -> None:
        self._definitions = dict(definitions or {})
        self._lock = threading.Lock()

    def get(self, assistant_id: str) -> AssistantDefinition | None:
        with self._lock:
            return self._definitions.get(assistant_id)

    def save(self, definition: AssistantDefinition) -> str:
        assistant_id = f"asst_local_{uuid.uuid4().hex[:24]}"
        with self._lock:
            self._definitions[assistant_id] = definition
        return assistant_id


class ChainCatalog:
    """Looks in each catalog in turn; saves into the last (the durable one)."""

    def __init__(self, catalogs: Sequence[AssistantCatalog]) -> None:
        if not catalogs:
            raise ValueError("ChainCatalog needs at least one catalog")
        self._catalogs = tuple(catalogs)

    def get(self, assistant_id: str) -> AssistantDefinition | None:
        for catalog in self._catalogs:
            found = catalog.get(assistant_id)
            if found is not None:
                return found
        return None

    def save(self, definition: AssistantDefinition) -> str:
        return self._catalogs[-1].save(definition)


def demo_catalog() -> MemoryCatalog:
    """A catalog that knows the demo assistant under its fixed id."""
    return MemoryCatalog({DEMO_ASSISTANT_ID: demo_definition()})


class DatabaseCatalog:
    """Definitions stored in the toolkit's database (`DATABASE_URL`), across processes.

    A definition found is kept in memory: an id names one definition for good (the setup
    script makes a new id each time), so every later conversation with it reads no database.
    """

    def __init__(
        self, store: AssistantStore | Callable[[], AssistantStore], backend: str = "responses"
    ) -> None:
        # A factory defers the store (SQLAlchemy, the engine) to the first lookup, which the
        # demo assistant, found in memory first, never makes.
        self._store_or_factory = store
        self._backend = backend
        self._found: dict[str, AssistantDefinition] = {}
        self._lock = threading.Lock()

    def _store(self) -> AssistantStore:
        with self._lock:
            if callable(self._store_or_factory):
                self._store_or_factory = self._store_or_factory()
            return self._store_or_factory

    def get(self, assistant_id: str) -> AssistantDefinition | None:
        with self._lock:
            known = self._found.get(assistant_id)
        if known is not None:
            return known
        record = self._store().get(assistant_id)
        if record is None:
            return None
        definition = AssistantDefinition(
            name=record.name,
            model=record.model,
            instructions=record.instructions,
            tools=tuple(record.tools),
        )
        with self._lock:
            self._found[assistant_id] = definition
        return definition

    def save(self, definition: AssistantDefinition) -> str:
        from persistence import AssistantRecord

        assistant_id = f"asst_local_{uuid.uuid4().hex[:24]}"
        self._store().save(
            AssistantRecord(
                id=assistant_id,
                name=definition.name,
                model=definition.model,
                backend=self._backend,
                instructions=definition.instructions,
                tools=tuple(dict(t) for t in definition.tools),
            )
        )
        return assistant_id


@functools.cache
def default_catalog(database_url: str | None = None) -> AssistantCatalog:
    """The demo assistant, then the definitions stored in the database: one per process and
    database, shared by every conversation."""

    def store() -> AssistantStore:
        from persistence import AssistantStore  # SQLAlchemy: only when a lookup needs it

        return AssistantStore(database_url)

    return ChainCatalog([demo_catalog(), DatabaseCatalog(store)])
