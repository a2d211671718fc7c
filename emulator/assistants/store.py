"""In-memory state: assistants, threads, messages, runs and run steps, as wire dicts.

Every collection is a dict kept in insertion order, which is the monotonic sequence that list
endpoints page over. The store is touched only from the server's event loop, so it needs no
locks. Lookups raise the API's 404 (`ApiError`). `to_data`/`from_data` give the JSON form that
the state file holds (beside the Responses side's own).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..common.errors import not_found
from ..common.wire import JsonObj

__all__ = ["ACTIVE_STATUSES", "TERMINAL_STATUSES", "RunBook", "Store"]

ACTIVE_STATUSES = frozenset({"queued", "in_progress", "requires_action", "cancelling"})
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled", "expired", "incomplete"})

STATE_VERSION = 1


@dataclass(slots=True)
class RunBook:
    """Bookkeeping of a run that is not on the wire: exact deadline and token counts."""

    deadline: float
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Store:
    def __init__(self) -> None:
        self.assistants: dict[str, JsonObj] = {}
        self.threads: dict[str, JsonObj] = {}
        self.messages: dict[str, dict[str, JsonObj]] = {}  # thread id -> message id -> message
        self.runs: dict[str, dict[str, JsonObj]] = {}  # thread id -> run id -> run
        self.steps: dict[str, dict[str, JsonObj]] = {}  # run id -> step id -> step
        self.books: dict[str, RunBook] = {}  # run id -> bookkeeping

    # -- lookups (404 when missing) -------------------------------------------------------
    def assistant(self, assistant_id: str) -> JsonObj:
        try:
            return self.assistants[assistant_id]
        except KeyError:
            raise not_found("assistant", assistant_id) from None

    def thread(self, thread_id: str) -> JsonObj:
        try:
            return self.threads[thread_id]
        except KeyError:
            raise not_found("thread", thread_id) from None

    def message(self, thread_id: str, message_id: str) -> JsonObj:
        self.thread(thread_id)
        try:
            return self.messages[thread_id][message_id]
        except KeyError:
            raise not_found("message", message_id) from None

    def run(self, thread_id: str, run_id: str) -> JsonObj:
        self.thread(thread_id)
        try:
            return self.runs[thread_id][run_id]
        except KeyError:
            raise not_found("run", run_id) from None

    def step(self, thread_id: str, run_id: str, step_id: str) -> JsonObj:
        self.run(thread_id, run_id)
        try:
            return self.steps[run_id][step_id]
        except KeyError:
            raise not_found("run step", step_id) from None

    def active_run(self, thread_id: str) -> JsonObj | None:
        """The run that locks the thread, if any."""
        for run in self.runs.get(thread_id, {}).values():
            if run["status"] in ACTIVE_STATUSES:
                return run
        return None

    def all_runs(self) -> list[JsonObj]:
        return [run for runs in self.runs.values() for run in runs.values()]

    def run_steps(self, run_id: str) -> list[JsonObj]:
        return list(self.steps.get(run_id, {}).values())

    # -- mutations --------------------------------------------------------------------------
    def add_assistant(self, assistant: JsonObj) -> JsonObj:
        self.assistants[assistant["id"]] = assistant
        return assistant

    def add_thread(self, thread: JsonObj) -> JsonObj:
        self.threads[thread["id"]] = thread
        self.messages[thread["id"]] = {}
        self.runs[thread["id"]] = {}
        return thread

    def add_message(self, message: JsonObj) -> JsonObj:
        self.messages[message["thread_id"]][message["id"]] = message
        return message

    def add_run(self, run: JsonObj, book: RunBook) -> JsonObj:
        self.runs[run["thread_id"]][run["id"]] = run
        self.steps[run["id"]] = {}
        self.books[run["id"]] = book
        return run

    def add_step(self, step: JsonObj) -> JsonObj:
        self.steps[step["run_id"]][step["id"]] = step
        return step

    def delete_thread(self, thread_id: str) -> list[str]:
        """Remove a thread and everything in it; return the ids of its runs."""
        self.thread(thread_id)
        del self.threads[thread_id]
        self.messages.pop(thread_id, None)
        run_ids = list(self.runs.pop(thread_id, {}))
        for run_id in run_ids:
            self.steps.pop(run_id, None)
            self.books.pop(run_id, None)
        return run_ids

    # -- the state file's JSON form ---------------------------------------------------------
    def to_data(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "assistants": list(self.assistants.values()),
            "threads": list(self.threads.values()),
            "messages": {tid: list(msgs.values()) for tid, msgs in self.messages.items()},
            "runs": {tid: list(runs.values()) for tid, runs in self.runs.items()},
            "steps": {rid: list(steps.values()) for rid, steps in self.steps.items()},
            "books": {rid: asdict(book) for rid, book in self.books.items()},
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Store:
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported state file version {data.get('version')!r}")
        store = cls()
        store.assistants = {a["id"]: a for a in data["assistants"]}
        store.threads = {t["id"]: t for t in data["threads"]}
        store.messages = {tid: {m["id"]: m for m in ms} for tid, ms in data["messages"].items()}
        store.runs = {tid: {r["id"]: r for r in rs} for tid, rs in data["runs"].items()}
        store.steps = {rid: {s["id"]: s for s in ss} for rid, ss in data["steps"].items()}
        store.books = {rid: RunBook(**book) for rid, book in data["books"].items()}
        return store
