"""What happens to a run's objects at each transition, and the events that tell about it.

Events go into each active run's `EventLog` (`RunStreams`); SSE streams read it. A stream ends
at an event after which the run waits for tool outputs or is over; the log itself lives on until
the run reaches a terminal status (a later ``submit_tool_outputs`` stream reads on from where
the log then stands), and is dropped then: a finished run is not streamed again.

`RunEffects` mutates the stored run, steps and messages and publishes the matching SSE events
in the order of the wire reference (A.6). Every method runs synchronously on the server loop,
so no reader ever sees half a transition. Timing (when to call what) is `lifecycle`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import StreamingResponse

from ..common.sse import DONE_FRAME, EventLog, stream_answer
from ..common.turns import ToolSpec
from ..common.wire import JsonObj, chunks, estimate_tokens, new_id, now
from .objects import message_object, step_object, text_block, usage_object
from .store import Store

__all__ = ["RunEffects", "RunStreams", "run_stream"]

_PAUSES = frozenset({"thread.run.requires_action"})
_ENDINGS = frozenset(
    {
        "thread.run.completed",
        "thread.run.failed",
        "thread.run.incomplete",
        "thread.run.cancelled",
        "thread.run.expired",
    }
)


class RunStreams:
    """The event logs of the active runs, by run id."""

    def __init__(self) -> None:
        self._logs: dict[str, EventLog] = {}

    def log(self, run_id: str) -> EventLog:
        """The run's log (made on first use: a run restored from a state file has none yet)."""
        log = self._logs.get(run_id)
        if log is None:
            log = self._logs[run_id] = EventLog()
        return log

    def publish(self, run_id: str, name: str, data: Mapping[str, Any]) -> None:
        ends = name in _ENDINGS
        self.log(run_id).append(name, data, ends_stream=ends or name in _PAUSES)
        if ends:
            self.close(run_id)

    def close(self, run_id: str) -> None:
        """End every stream of one run and forget its log."""
        log = self._logs.pop(run_id, None)
        if log is not None:
            log.close()

    def close_all(self) -> None:
        for run_id in list(self._logs):
            self.close(run_id)

    def __len__(self) -> int:
        return len(self._logs)


def run_stream(log: EventLog, start: int) -> StreamingResponse:
    """The SSE answer for a run's stream: its events from `start`, then ``[DONE]``."""
    return stream_answer(log, start, trailer=DONE_FRAME)


_STEP_STATUS = {"failed": "failed", "cancelled": "cancelled", "expired": "expired"}
_MESSAGE_REASON = {"failed": "run_failed", "cancelled": "run_cancelled", "expired": "run_expired"}
_TIMESTAMP = {
    "completed": "completed_at",
    "failed": "failed_at",
    "cancelled": "cancelled_at",
    "expired": None,
    "incomplete": None,
}
_ARGUMENT_CHUNKS = 3
_TEXT_CHUNKS = 4


class RunEffects:
    def __init__(self, store: Store, streams: RunStreams) -> None:
        self._store = store
        self._streams = streams

    def _publish(self, run: JsonObj, name: str, data: JsonObj) -> None:
        self._streams.publish(run["id"], name, data)

    def _publish_run(self, run: JsonObj) -> None:
        self._publish(run, f"thread.run.{run['status']}", run)

    # -- start of a run and of each turn ---------------------------------------------------
    def created(self, run: JsonObj) -> None:
        self._publish(run, "thread.run.created", run)
        self._publish(run, "thread.run.queued", run)

    def requeued(self, run: JsonObj) -> None:
        """Outputs were submitted: back to ``queued``."""
        run["status"] = "queued"
        run["required_action"] = None
        self._publish_run(run)

    def started(self, run: JsonObj) -> None:
        """``queued`` -> ``in_progress``; a tool step whose outputs are all in completes."""
        run["status"] = "in_progress"
        if run["started_at"] is None:
            run["started_at"] = now()
        self._publish_run(run)
        for step in self._store.run_steps(run["id"]):
            if step["status"] == "in_progress" and step["type"] == "tool_calls":
                calls = step["step_details"]["tool_calls"]
                if all(call["function"]["output"] is not None for call in calls):
                    outputs = "".join(call["function"]["output"] for call in calls)
                    self._complete_step(run, step, estimate_tokens(outputs), 0)

    def _complete_step(self, run: JsonObj, step: JsonObj, prompt: int, completion: int) -> None:
        step["status"] = "completed"
        step["completed_at"] = now()
        step["usage"] = usage_object(prompt, completion)
        self._publish(run, "thread.run.step.completed", step)

    # -- outcomes of a turn -----------------------------------------------------------------
    def tool_calls(self, run: JsonObj, calls: Sequence[ToolSpec]) -> None:
        """Open a tool step for parallel calls and stop the run in ``requires_action``."""
        entries = [
            {
                "id": new_id("call"),
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments_json(), "output": None},
            }
            for c in calls
        ]
        step = self._store.add_step(
            step_object(run, "tool_calls", {"type": "tool_calls", "tool_calls": entries})
        )
        empty = {**step, "step_details": {"type": "tool_calls", "tool_calls": []}}
        self._publish(run, "thread.run.step.created", empty)
        self._publish(run, "thread.run.step.in_progress", empty)
        for index, entry in enumerate(entries):
            self._tool_call_deltas(run, step["id"], index, entry)
        run["status"] = "requires_action"
        run["required_action"] = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": [
                    {"id": e["id"], "type": "function", "function": _call_function(e)}
                    for e in entries
                ]
            },
        }
        self._publish_run(run)

    def _tool_call_deltas(self, run: JsonObj, step_id: str, index: int, entry: JsonObj) -> None:
        first = {
            "index": index,
            "id": entry["id"],
            "type": "function",
            "function": {"name": entry["function"]["name"], "arguments": "", "output": None},
        }
        pieces = [first] + [
            {"index": index, "type": "function", "function": {"arguments": piece}}
            for piece in chunks(entry["function"]["arguments"], _ARGUMENT_CHUNKS)
        ]
        for piece in pieces:
            delta = {"step_details": {"type": "tool_calls", "tool_calls": [piece]}}
            data = {"id": step_id, "object": "thread.run.step.delta", "delta": delta}
            self._publish(run, "thread.run.step.delta", data)

    def reply(self, run: JsonObj, text: str, prompt_tokens: int) -> None:
        """Write the assistant message (streamed in pieces) and complete the run."""
        message = message_object(
            run["thread_id"],
            "assistant",
            [],
            assistant_id=run["assistant_id"],
            run_id=run["id"],
            status="in_progress",
        )
        details = {"type": "message_creation", "message_creation": {"message_id": message["id"]}}
        step = self._store.add_step(step_object(run, "message_creation", details))
        self._publish(run, "thread.run.step.created", step)
        self._publish(run, "thread.run.step.in_progress", step)
        self._store.add_message(message)
        self._publish(run, "thread.message.created", message)
        self._publish(run, "thread.message.in_progress", message)
        for piece in chunks(text, _TEXT_CHUNKS):
            content = [{"index": 0, "type": "text", "text": {"value": piece, "annotations": []}}]
            delta = {"id": message["id"], "object": "thread.message.delta"}
            self._publish(run, "thread.message.delta", {**delta, "delta": {"content": content}})
        message["content"] = [text_block(text)]
        message["status"] = "completed"
        message["completed_at"] = now()
        self._publish(run, "thread.message.completed", message)
        self._complete_step(run, step, prompt_tokens, estimate_tokens(text))
        self.finish(run, "completed")

    def finish(
        self,
        run: JsonObj,
        status: str,
        *,
        last_error: JsonObj | None = None,
        incomplete_details: JsonObj | None = None,
    ) -> None:
        """End the run in a terminal `status`; open steps and messages end with it."""
        stamp = now()
        for step in self._store.run_steps(run["id"]):
            if step["status"] == "in_progress":
                self._end_step(run, step, _STEP_STATUS.get(status, "failed"), stamp, last_error)
        for message in self._store.messages.get(run["thread_id"], {}).values():
            if message["run_id"] == run["id"] and message["status"] == "in_progress":
                message["status"] = "incomplete"
                message["incomplete_at"] = stamp
                message["incomplete_details"] = {
                    "reason": _MESSAGE_REASON.get(status, "run_failed")
                }
                self._publish(run, "thread.message.incomplete", message)
        run["status"] = status
        run["required_action"] = None
        run["last_error"] = last_error
        run["incomplete_details"] = incomplete_details
        field = _TIMESTAMP[status]
        if field is not None:
            run[field] = stamp
        if status != "expired":
            run["expires_at"] = None
        book = self._store.books.get(run["id"])
        if book is not None:
            run["usage"] = usage_object(book.prompt_tokens, book.completion_tokens)
        self._publish_run(run)

    def _end_step(
        self, run: JsonObj, step: JsonObj, status: str, stamp: int, last_error: JsonObj | None
    ) -> None:
        step["status"] = status
        step[f"{status}_at"] = stamp
        if status == "failed":
            code = (last_error or {}).get("code")
            step["last_error"] = {
                "code": code if code == "rate_limit_exceeded" else "server_error",
                "message": (last_error or {}).get("message", "The run failed."),
            }
        self._publish(run, f"thread.run.step.{status}", step)


def _call_function(entry: JsonObj) -> dict[str, Any]:
    return {"name": entry["function"]["name"], "arguments": entry["function"]["arguments"]}
