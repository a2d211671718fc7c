"""The response lifecycle over time: one asyncio task per running response, on the server's loop.

    background:  queued -> in_progress -> completed | failed | incomplete   (cancel -> cancelled)
    foreground:  in_progress -> completed | failed | incomplete

A response's task waits `queue_delay` (background only), asks the model for one turn (in a
worker thread), waits the turn's delay and applies the outcome: output items, status, usage,
then the conversation's new items (the response's input, then its output; only when it
completed or is incomplete) and the terminal event. The task runs under the response's
deadline (creation + `run_ttl`), so a `Stall` ends by cancel or by failing, and a foreground
request never hangs. Streamed responses publish their events into a `ResponseLog`.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..common.config import RunTiming
from ..common.errors import bad_request
from ..common.structured import structured_text
from ..common.turns import (
    CallTools,
    Expire,
    Fail,
    Incomplete,
    Model,
    Reply,
    Stall,
    Turn,
    TurnContext,
)
from ..common.usage import PromptCache, call_tokens, prompt_tokens
from ..common.wire import JsonObj, estimate_tokens, new_id, now
from .context import tool_policy, turn_context
from .events import TERMINAL_EVENTS, ResponseLog, item_events, replayed_log
from .objects import (
    ACTIVE_RESPONSE_STATUSES,
    INCOMPLETE_REASONS,
    function_call_item,
    item_text,
    message_item,
    response_usage,
)
from .store import ResponseBook, ResponsesStore

__all__ = ["ResponseEngine"]

logger = logging.getLogger(__name__)

EXPIRE_MESSAGE = (
    "The model ended this response with Expire; the Responses API has no expired status, "
    "so the emulator fails it."
)


class ResponseEngine:
    def __init__(
        self, store: ResponsesStore, timing: RunTiming, model: Callable[[], Model]
    ) -> None:
        self._store = store
        self._timing = timing
        self._model = model
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._logs: dict[str, ResponseLog] = {}
        self._done: dict[str, asyncio.Event] = {}
        self._cache = PromptCache()

    # -- requests ---------------------------------------------------------------------------
    def start(self, response: JsonObj, *, stuck: bool = False) -> None:
        """A stored, new response begins its life (``queued`` or ``in_progress``); a `stuck`
        one stays ``queued`` until it is cancelled or its deadline passes (a fault)."""
        response_id = response["id"]
        self._done[response_id] = asyncio.Event()
        if self._store.books[response_id].stream:
            log = self._logs[response_id] = ResponseLog()
            log.lifecycle("response.created", response)
            log.lifecycle(f"response.{response['status']}", response)
        task = asyncio.get_running_loop().create_task(
            self._drive(response, stuck), name=f"emulator-response-{response_id}"
        )
        self._tasks[response_id] = task

        def _done(finished: asyncio.Task[None]) -> None:
            if self._tasks.get(response_id) is finished:
                del self._tasks[response_id]

        task.add_done_callback(_done)

    async def wait(self, response: JsonObj) -> None:
        """Until `response` ends (or the server stops)."""
        done = self._done.get(response["id"])
        if done is not None:
            await done.wait()

    def log(self, response: JsonObj) -> ResponseLog:
        """The events of a streamed response: live, or rebuilt when it ended before a restart."""
        return self._logs.get(response["id"]) or replayed_log(response)

    def cancel(self, response: JsonObj) -> None:
        if not response["background"]:
            raise bad_request("Only responses created with background=true can be cancelled.")
        if response["status"] in ACTIVE_RESPONSE_STATUSES:
            self._stop(response)
            response["status"] = "cancelled"
            self._ended(response)

    def forget(self, response: JsonObj) -> None:
        """The response is deleted: stop it, end its streams and drop it from the store."""
        if response["status"] in ACTIVE_RESPONSE_STATUSES:
            self._stop(response)
            response["status"] = "cancelled"
            self._ended(response)
        self._logs.pop(response["id"], None)
        self._store.drop_response(response["id"])

    def resume(self) -> None:
        """After loading a state file, run every response that was still running afresh."""
        for response in list(self._store.responses.values()):
            if response["status"] in ACTIVE_RESPONSE_STATUSES:
                response["status"] = "queued" if response["background"] else "in_progress"
                self.start(response)

    def close_streams(self) -> None:
        """End every open stream and release every waiting request (the server is stopping)."""
        for log in self._logs.values():
            log.close()
        for done in self._done.values():
            done.set()

    async def shutdown(self, grace: float = 2.0) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        self.close_streams()

    # -- the response's task ----------------------------------------------------------------
    async def _drive(self, response: JsonObj, stuck: bool = False) -> None:
        book = self._store.books[response["id"]]
        try:
            async with asyncio.timeout(max(0.0, book.deadline - time.time())):
                if stuck:
                    await asyncio.Event().wait()  # until cancelled or past the deadline
                await self._turn(response, book)
        except TimeoutError:
            if response["status"] in ACTIVE_RESPONSE_STATUSES:
                message = (
                    f"The response did not finish within {self._timing.run_ttl:g} s "
                    "(the emulator's run_ttl)."
                )
                self._finish(response, "failed", error=_error("server_error", message))
        except Exception:
            logger.exception("emulator response %s crashed", response["id"])
            message = "The emulator crashed while running."
            self._finish(response, "failed", error=_error("server_error", message))

    async def _turn(self, response: JsonObj, book: ResponseBook) -> None:
        if response["status"] == "queued":
            await asyncio.sleep(self._timing.queue_delay)
            response["status"] = "in_progress"
            self._emit_lifecycle(response, "response.in_progress")
        items = self._items(response, book)
        context = turn_context(response, items, self._store.producers(response))
        turn = await self._decide(context)
        if isinstance(turn, Stall):
            await asyncio.Event().wait()  # until cancelled or past the deadline
        delay = turn.delay + self._timing.model_delay
        if delay > 0:
            await asyncio.sleep(delay)
        turn = tool_policy(response).enforce(turn, first_turn=True)
        self._apply(response, turn, items)

    def _items(self, response: JsonObj, book: ResponseBook) -> list[JsonObj]:
        """The response's whole history, its own input last."""
        conversation = response["conversation"]
        history: list[JsonObj] = []
        if conversation is not None:
            history = list(self._store.items.get(conversation["id"], {}).values())
        elif response["previous_response_id"]:
            previous = self._store.responses.get(response["previous_response_id"])
            history = self._store.chain(previous) if previous is not None else []
        return [*history, *book.input]

    async def _decide(self, context: TurnContext) -> Turn:
        model = self._model()
        try:
            return await asyncio.to_thread(model.decide, context)
        except Exception as exc:
            logger.info("model %r failed on response %s: %r", model, context.run_id, exc)
            return Fail("server_error", f"The model raised {type(exc).__name__}: {exc}")

    def _apply(self, response: JsonObj, turn: Turn, items: Sequence[JsonObj]) -> None:
        instructions, tools = response["instructions"], response["tools"]
        prompt = prompt_tokens(instructions, tools, [item_text(item) for item in items])
        conversation = (response["conversation"] or {}).get("id")
        cached = self._cache.read(conversation, instructions, tools, prompt)
        usage = response_usage(prompt, 0, cached=cached)
        if isinstance(turn, CallTools):
            output = [
                function_call_item(new_id("call"), call.name, call.arguments_json())
                for call in turn.calls
            ]
            completion = sum(call_tokens(item["name"], item["arguments"]) for item in output)
            usage = response_usage(prompt, completion, cached=cached)
            self._finish(response, "completed", output, usage=usage)
        elif isinstance(turn, Reply):
            text = structured_text(turn.text, (response["text"] or {}).get("format"))
            output = [message_item("assistant", text)]
            usage = response_usage(prompt, estimate_tokens(text), cached=cached)
            self._finish(response, "completed", output, usage=usage)
        elif isinstance(turn, Fail):
            self._finish(response, "failed", error=_error(turn.code, turn.message), usage=usage)
        elif isinstance(turn, Incomplete):
            reason = INCOMPLETE_REASONS.get(turn.reason, "max_output_tokens")
            self._finish(response, "incomplete", incomplete={"reason": reason}, usage=usage)
        elif isinstance(turn, Expire):
            error = _error("server_error", EXPIRE_MESSAGE)
            self._finish(response, "failed", error=error, usage=usage)
        else:  # anything else a model returned
            error = _error("server_error", f"The model returned {turn!r}.")
            self._finish(response, "failed", error=error, usage=usage)

    # -- effects ----------------------------------------------------------------------------
    def _finish(
        self,
        response: JsonObj,
        status: str,
        output: Sequence[JsonObj] = (),
        *,
        error: JsonObj | None = None,
        incomplete: JsonObj | None = None,
        usage: JsonObj | None = None,
    ) -> None:
        """End `response` in a terminal `status`: output (streamed), fields, conversation."""
        log = self._logs.get(response["id"])
        for item in output:
            index = len(response["output"])
            response["output"].append(item)
            if log is not None:
                for event_type, payload in item_events(index, item):
                    log.append(event_type, payload)
        response["status"] = status
        response["completed_at"] = now() if status == "completed" else None
        response["error"] = error
        response["incomplete_details"] = incomplete
        response["usage"] = usage
        conversation = response["conversation"]
        if conversation is not None and status in ("completed", "incomplete"):
            book = self._store.books[response["id"]]
            added = [*book.input, *response["output"]]
            self._store.add_items(conversation["id"], copy.deepcopy(added))
        self._emit_lifecycle(response, TERMINAL_EVENTS[status])
        self._ended(response)

    def _ended(self, response: JsonObj) -> None:
        """Close the response's stream and release its waiters; forget what is not kept."""
        response_id = response["id"]
        log = self._logs.get(response_id)
        if log is not None:
            log.close()
            if not response["background"]:
                del self._logs[response_id]
        done = self._done.pop(response_id, None)
        if done is not None:
            done.set()
        if not response["store"]:
            self._store.drop_response(response_id)

    def _emit_lifecycle(self, response: JsonObj, event_type: str) -> None:
        log = self._logs.get(response["id"])
        if log is not None:
            log.lifecycle(event_type, response)

    def _stop(self, response: JsonObj) -> None:
        task = self._tasks.pop(response["id"], None)
        if task is not None:
            task.cancel()


def _error(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}
