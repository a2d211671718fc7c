"""One running emulator: its options, store, run and response engines, faults and model, and
their lifespan.

`EmulatorState` is built when a server starts. It loads the state file (if any), seeds the demo
assistant, and, once the event loop runs (`lifespan`), resumes active runs and responses and
saves the state now and then and at shutdown. Handlers reach it with `emulator_state(request)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

from starlette.requests import Request

from .config import EmulatorConfig
from .events import EventHub
from .faults import FaultSet
from .lifecycle import RunEngine
from .objects import assistant_object
from .responses_lifecycle import ResponseEngine
from .seed import DEMO_ASSISTANT_ID, demo_assistant_fields
from .state_file import load_state, save_state
from .store import Store
from .turns import Model

__all__ = ["EmulatorState", "emulator_state"]

logger = logging.getLogger(__name__)


class EmulatorState:
    def __init__(
        self,
        config: EmulatorConfig,
        model: Callable[[], Model],
        faults: FaultSet | None = None,
    ) -> None:
        self.config = config
        self.faults = faults if faults is not None else FaultSet()
        self.store = self._load_store()
        if config.seed_assistants and DEMO_ASSISTANT_ID not in self.store.assistants:
            self.store.add_assistant(
                assistant_object(demo_assistant_fields(), assistant_id=DEMO_ASSISTANT_ID)
            )
        self.hub = EventHub()
        self.engine = RunEngine(self.store, self.hub, config.timing, model)
        self.responses = ResponseEngine(self.store.responses_api, config.timing, model)
        self._saved_text: str | None = None

    def _load_store(self) -> Store:
        if self.config.state_file is None:
            return Store()
        data = load_state(self.config.state_file)
        return Store() if data is None else Store.from_data(data)

    @property
    def run_headers(self) -> dict[str, str]:
        """Headers sent with every run answer."""
        return {"openai-poll-after-ms": str(self.config.poll_after_ms)}

    def close_streams(self) -> None:
        """End every open stream (runs and responses) and release waiting requests."""
        self.hub.close_all()
        self.responses.close_streams()

    def save(self) -> None:
        """Write the state file if the state changed since the last write."""
        if self.config.state_file is None:
            return
        text = json.dumps(self.store.to_data())
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


def emulator_state(request: Request) -> EmulatorState:
    return cast(EmulatorState, request.app.state.emulator)
