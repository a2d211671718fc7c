"""Assistant definitions for the Responses protocol, which has no assistant object.

The demo assistant is always known under its fixed id; definitions made by
`assistant_setup.py` are stored in the database and found there.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence

from conversation.demo import DEMO_ASSISTANT_ID, demo_definition
from proxies.backends.base import AssistantCatalog, AssistantDefinition


class MemoryCatalog:
    """Definitions held in this process (tests, and the built-in demo)."""

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


_process_catalog: AssistantCatalog | None = None
_process_lock = threading.Lock()


def default_catalog() -> AssistantCatalog:
    """The process's catalog: the demo assistant, then definitions saved in this process."""
    global _process_catalog
    with _process_lock:
        if _process_catalog is None:
            _process_catalog = ChainCatalog([demo_catalog(), MemoryCatalog()])
        return _process_catalog
