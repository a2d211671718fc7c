"""One running emulator: its options, store, run and response engines, faults and model, and
their lifespan.

`EmulatorState` is built when a server starts. It loads the state file (if any), seeds the demo
assistant, and, once the event loop runs (`lifespan`), resumes active runs and responses and
saves the state now and then and at shutdown. Handlers reach it with `emulator_state(request)`.
The state file is one JSON document (both protocols' stores), written atomically.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, cast

from starlette.requests import Request

from ..assistants.effects import RunStreams
from ..assistants.lifecycle import RunEngine
from ..assistants.objects import assistant_object
from ..assistants.store import Store
from ..demo.seed import DEMO_ASSISTANT_ID, demo_assistant_fields
from ..responses.lifecycle import ResponseEngine
from ..responses.store import ResponsesStore
from .config import EmulatorConfig
from .faults import FaultSet
from .turns import Model

__all__ = ["EmulatorState", "emulator_state", "load_state", "save_state"]

logger = logging.getLogger(__name__)


class EmulatorState:
    def __init__(
        self,
        config: EmulatorConfig,
        model: Callable[[], Model],
        faults: FaultSet | None = None,
    ) -> None:
        self.config = config
        self.model_factory = model  # the model deciding each turn, as it is now
        self.faults = faults if faults is not None else FaultSet()
        self.store, self.responses_store = self._load_stores()
        if config.seed_assistants and DEMO_ASSISTANT_ID not in self.store.assistants:
            self.store.add_assistant(
                assistant_object(demo_assistant_fields(), assistant_id=DEMO_ASSISTANT_ID)
            )
        self.streams = RunStreams()
        self.engine = RunEngine(self.store, self.streams, config.timing, model)
        self.responses = ResponseEngine(self.responses_store, config.timing, model)
        self._saved_text: str | None = None
        self.stopping = asyncio.Event()  # set when the server stops: stalled requests end

    def _load_stores(self) -> tuple[Store, ResponsesStore]:
        data = load_state(self.config.state_file) if self.config.state_file else None
        if data is None:
            return Store(), ResponsesStore()
        return Store.from_data(data), ResponsesStore.from_data(data.get("responses_api"))

    def to_data(self) -> dict[str, Any]:
        """The state file's JSON form: both protocols' stores."""
        return {**self.store.to_data(), "responses_api": self.responses_store.to_data()}

    @property
    def run_headers(self) -> dict[str, str]:
        """Headers sent with every run answer."""
        return {"openai-poll-after-ms": str(self.config.poll_after_ms)}

    def close_streams(self) -> None:
        """End every open stream (runs and responses) and release waiting requests."""
        self.stopping.set()
        self.streams.close_all()
        self.responses.close_streams()

    def save(self) -> None:
        """Write the state file if the state changed since the last write."""
        if self.config.state_file is None:
            return
        text = json.dumps(self.to_data())
        if text != self._saved_text:
            save_state(self.config.state_file, text)
            self._saved_text = text

    async def _autosave(self) -> None:
        while True:
            await asyncio.sleep(self.config.save_interval)
            try:
                self.save()
            except OSError:
                logger.exception("emulator could not save %s", self.config.state_file)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        self.engine.resume()
        self.responses.resume()
        saver = asyncio.create_task(self._autosave()) if self.config.state_file else None
        try:
            yield
        finally:
            if saver is not None:
                saver.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await saver
            await self.engine.shutdown()
            await self.responses.shutdown()
            self.save()


def load_state(path: Path) -> dict[str, Any] | None:
    """The saved state, or None when there is no file yet."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path} does not hold an emulator state object")
    return data


def save_state(path: Path, text: str) -> None:
    """Write `text` to `path` so that a reader sees the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def emulator_state(request: Request) -> EmulatorState:
    return cast(EmulatorState, request.app.state.emulator)
