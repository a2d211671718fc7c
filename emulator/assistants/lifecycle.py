"""The run lifecycle over time: one asyncio task per active run, on the server's loop.

    queued -> in_progress -> requires_action | completed | failed | incomplete | expired
    requires_action --submit--> queued -> in_progress -> ...
    queued | in_progress | requires_action --cancel--> cancelling -> cancelled

A run's task waits `queue_delay`, asks the model for a turn (in a worker thread), waits the
turn's delay, and applies the outcome through `RunEffects`. In ``requires_action`` it waits for
`submit`. The whole task runs under the run's deadline (`expires_at`), so every run leaves the
active statuses: the model is asked again after each submit, and a `Stall` ends by cancel or
expiry. Nothing sleeps while holding shared state, so runs progress in parallel.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from ..common.choice import ToolPolicy
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
    ThreadMessage,
    ToolExchange,
    Turn,
    TurnContext,
)
from ..common.usage import call_tokens, prompt_tokens
from ..common.wire import JsonObj, estimate_tokens
from .effects import RunEffects, RunStreams
from .objects import message_text
from .store import TERMINAL_STATUSES, Store

__all__ = ["RunEngine"]

logger = logging.getLogger(__name__)


class RunEngine:
    def __init__(
        self,
        store: Store,
        streams: RunStreams,
        timing: RunTiming,
        model: Callable[[], Model],
    ) -> None:
        self._store = store
        self._effects = RunEffects(store, streams)
        self._streams = streams
        self._timing = timing
        self._model = model
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._submitted: dict[str, asyncio.Event] = {}

    @property
    def timing(self) -> RunTiming:
        return self._timing

    # -- requests ---------------------------------------------------------------------------
    def start(self, run: JsonObj) -> None:
        """A stored, queued run begins its life."""
        self._effects.created(run)
        self._spawn(run, self._drive(run))

    def submit(self, run: JsonObj, outputs: Sequence[tuple[str, str]]) -> None:
        """Take all outputs of a ``requires_action`` run, or raise a 400 before any change."""
        if run["status"] != "requires_action":
            raise bad_request(
                f'Runs in status "{run["status"]}" do not accept tool outputs.',
                param="tool_outputs",
            )
        step = self._pending_tool_step(run)
        calls = {call["id"]: call for call in step["step_details"]["tool_calls"]}
        given = [call_id for call_id, _ in outputs]
        _check_outputs(given, list(calls))
        for call_id, output in outputs:
            calls[call_id]["function"]["output"] = output
        self._effects.requeued(run)
        if run["id"] in self._tasks:
            self._submitted.setdefault(run["id"], asyncio.Event()).set()
        else:  # e.g. restored from a state file: nobody is waiting, drive it afresh
            self._spawn(run, self._drive(run))

    def cancel(self, run: JsonObj) -> None:
        status = run["status"]
        if status in TERMINAL_STATUSES:
            raise bad_request(f"Cannot cancel run with status '{status}'.")
        if status == "cancelling":
            return
        task = self._tasks.pop(run["id"], None)
        if task is not None:
            task.cancel()
        run["status"] = "cancelling"
        self._streams.publish(run["id"], "thread.run.cancelling", run)
        self._spawn(run, self._finish_cancel(run))

    def forget(self, run_ids: Sequence[str]) -> None:
        """The thread of these runs was deleted: stop their tasks and streams."""
        for run_id in run_ids:
            task = self._tasks.pop(run_id, None)
            if task is not None:
                task.cancel()
            self._submitted.pop(run_id, None)
            self._streams.close(run_id)

    def resume(self) -> None:
        """After loading a state file, drive every run that was still active."""
        for run in self._store.all_runs():
            status = run["status"]
            if status == "cancelling":
                self._effects.finish(run, "cancelled")
            elif status in ("queued", "in_progress"):
                run["status"] = "queued"
                self._spawn(run, self._drive(run))
            elif status == "requires_action":
                self._spawn(run, self._drive(run))

    async def shutdown(self, grace: float = 2.0) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        self._streams.close_all()

    # -- the run's task ---------------------------------------------------------------------
    def _spawn(self, run: JsonObj, work: Coroutine[Any, Any, None]) -> None:
        run_id = run["id"]
        task = asyncio.get_running_loop().create_task(work, name=f"emulator-run-{run_id}")
        self._tasks[run_id] = task

        def _done(finished: asyncio.Task[None]) -> None:
            if self._tasks.get(run_id) is finished:
                del self._tasks[run_id]
                self._submitted.pop(run_id, None)

        task.add_done_callback(_done)

    async def _drive(self, run: JsonObj) -> None:
        book = self._store.books[run["id"]]
        try:
            async with asyncio.timeout(max(0.0, book.deadline - time.time())):
                await self._turns(run)
        except TimeoutError:
            if run["status"] in ("queued", "in_progress", "requires_action"):
                self._effects.finish(run, "expired")
        except Exception:
            logger.exception("emulator run %s crashed", run["id"])
            error = {"code": "server_error", "message": "The emulator crashed while running."}
            self._effects.finish(run, "failed", last_error=error)

    async def _turns(self, run: JsonObj) -> None:
        while True:
            if run["status"] == "requires_action":
                submitted = self._submitted.setdefault(run["id"], asyncio.Event())
                await submitted.wait()
                submitted.clear()
                continue
            if run["status"] == "queued":
                await asyncio.sleep(self._timing.queue_delay)
                self._effects.started(run)
            prompt_tokens = self._count_prompt(run)
            turn = await self._decide(run)
            first_turn = not any(
                s["type"] == "tool_calls" for s in self._store.run_steps(run["id"])
            )
            turn = _policy(run).enforce(turn, first_turn=first_turn)
            if isinstance(turn, Stall):
                await asyncio.Event().wait()  # until cancelled or expired
            delay = turn.delay + self._timing.model_delay
            if delay > 0:
                await asyncio.sleep(delay)
            if not self._apply(run, turn, prompt_tokens):
                return

    def _apply(self, run: JsonObj, turn: Turn, prompt_tokens: int) -> bool:
        """Apply a turn's outcome; true when the run goes on (it asked for tools)."""
        book = self._store.books[run["id"]]
        if isinstance(turn, CallTools):
            calls = turn.calls
            book.completion_tokens += sum(call_tokens(c.name, c.arguments_json()) for c in calls)
            self._effects.tool_calls(run, turn.calls)
            return True
        if isinstance(turn, Reply):
            text = structured_text(turn.text, run["response_format"])
            book.completion_tokens += estimate_tokens(text)
            self._effects.reply(run, text, prompt_tokens)
        elif isinstance(turn, Fail):
            error = {"code": turn.code, "message": turn.message}
            self._effects.finish(run, "failed", last_error=error)
        elif isinstance(turn, Incomplete):
            details = {"reason": turn.reason}
            self._effects.finish(run, "incomplete", incomplete_details=details)
        elif isinstance(turn, Expire):
            self._effects.finish(run, "expired")
        else:  # anything else a model returned
            error = {"code": "server_error", "message": f"The model returned {turn!r}."}
            self._effects.finish(run, "failed", last_error=error)
        return False

    async def _decide(self, run: JsonObj) -> Turn:
        context = self._context(run)
        model = self._model()
        try:
            return await asyncio.to_thread(model.decide, context)
        except Exception as exc:
            logger.info("model %r failed on run %s: %r", model, run["id"], exc)
            return Fail("server_error", f"The model raised {type(exc).__name__}: {exc}")

    def _count_prompt(self, run: JsonObj) -> int:
        """This turn's input, counted as the Responses side counts it (`common.usage`): the
        thread's messages and every function call and output of its runs so far."""
        items = [message_text(m) for m in self._store.messages.get(run["thread_id"], {}).values()]
        for other in self._store.runs.get(run["thread_id"], {}).values():
            for step in self._store.run_steps(other["id"]):
                if _is_tool_step(step):
                    for call in _exchanges(step):
                        items.append(call.arguments)
                        if call.output is not None:
                            items.append(call.output)
        tokens = prompt_tokens(run["instructions"], run["tools"], items)
        self._store.books[run["id"]].prompt_tokens += tokens
        return tokens

    async def _finish_cancel(self, run: JsonObj) -> None:
        await asyncio.sleep(self._timing.cancel_delay)
        if run["status"] == "cancelling":
            self._effects.finish(run, "cancelled")

    # -- helpers ----------------------------------------------------------------------------
    def _pending_tool_step(self, run: JsonObj) -> JsonObj:
        for step in reversed(self._store.run_steps(run["id"])):
            if step["type"] == "tool_calls" and step["status"] == "in_progress":
                return step
        raise bad_request("This run has no pending tool calls.", param="tool_outputs")

    def _context(self, run: JsonObj) -> TurnContext:
        messages = tuple(
            ThreadMessage(role=m["role"], text=message_text(m), run_id=m["run_id"])
            for m in self._store.messages.get(run["thread_id"], {}).values()
        )
        tool_turns = tuple(
            _exchanges(step) for step in self._store.run_steps(run["id"]) if _is_tool_step(step)
        )
        earlier = tuple(
            call
            for other in self._store.runs.get(run["thread_id"], {}).values()
            if other["id"] != run["id"]
            for step in self._store.run_steps(other["id"])
            if _is_tool_step(step)
            for call in _exchanges(step)
        )
        names = [tool["function"]["name"] for tool in run["tools"] if tool["type"] == "function"]
        tool_names = _policy(run).visible(names)
        return TurnContext(
            thread_id=run["thread_id"],
            run_id=run["id"],
            assistant_id=run["assistant_id"],
            instructions=run["instructions"],
            tool_names=tool_names,
            messages=messages,
            tool_turns=tool_turns,
            earlier_tool_calls=earlier,
        )


def _is_tool_step(step: JsonObj) -> bool:
    return bool(step["type"] == "tool_calls")


def _exchanges(step: JsonObj) -> tuple[ToolExchange, ...]:
    return tuple(
        ToolExchange(
            call_id=call["id"],
            name=call["function"]["name"],
            arguments=call["function"]["arguments"],
            output=call["function"]["output"],
        )
        for call in step["step_details"]["tool_calls"]
    )


def _policy(run: JsonObj) -> ToolPolicy:
    functions = {
        tool["function"]["name"]: tool["function"].get("parameters")
        for tool in run["tools"]
        if tool["type"] == "function"
    }
    return ToolPolicy.of(run["tool_choice"], run["parallel_tool_calls"], functions)


def _check_outputs(given: list[str], expected: list[str]) -> None:
    duplicates = sorted({call_id for call_id in given if given.count(call_id) > 1})
    if duplicates:
        raise bad_request(
            f"Duplicate tool outputs for tool call ids: {', '.join(duplicates)}.",
            param="tool_outputs",
        )
    unknown = [call_id for call_id in given if call_id not in expected]
    if unknown:
        raise bad_request(
            f"Invalid tool_call_id: {', '.join(unknown)}. "
            "No matching tool call is awaiting an output in this run.",
            param="tool_outputs",
        )
    missing = [call_id for call_id in expected if call_id not in given]
    if missing:
        raise bad_request(
            f"Expected tool outputs for call_ids {expected}, got {given}. "
            f"Missing outputs for: {', '.join(missing)}.",
            param="tool_outputs",
        )
