"""What the exchange and concurrency benchmarks share: the emulator process, the contenders,
and figures that can be trusted on a shared machine.

Trust comes from three rules. Every contender runs in the same process against the same
emulator, in interleaved blocks (so a burst of load on the machine hits them all alike).
Every figure is given as min / median / max over the blocks, with the load average seen.
Every ratio divides by the *minimal loop* measured in the same run: a hand-written
`AsyncOpenAI` Responses streaming loop, the floor for any client built on the SDK.

The emulator runs in a child process (`bench.emulator_process`), so the bench process's CPU
time is the client's alone: the event loop, the recorder's writer thread and the tools'
worker threads included.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from openai import AsyncOpenAI

import conversation
from conversation.wiring import wire_to_server
from proxies.policy import ExchangePolicy
from tools import ToolCall, ToolRegistry, demo_registry

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "price of AAPL"
ASSISTANT_ID = conversation.DEMO_ASSISTANT_ID
#: The minimal loop's request timeout: the same as the toolkit's in `wire_to_server`.
SDK_TIMEOUT_S = 60.0


# -- the emulator --------------------------------------------------------------------------


class EmulatorProcess:
    """`bench.emulator_process` in a child process: its base URL, requests served, CPU used."""

    def __init__(self, delay: float, poll_after_ms: int = 100) -> None:
        self.delay = delay
        self._args = ["--delay", str(delay), "--poll-after-ms", str(poll_after_ms)]
        self._process: subprocess.Popen[str] | None = None
        self.base_url = ""

    def __enter__(self) -> EmulatorProcess:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.emulator_process", *self._args],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        self.base_url = self._process.stdout.readline().strip()
        if not self.base_url.startswith("http://127.0.0.1:"):
            self.__exit__(None, None, None)
            raise RuntimeError(f"the emulator process did not start (said {self.base_url!r})")
        return self

    def stats(self) -> tuple[int, float]:
        """Requests served so far, and the CPU seconds the emulator has used."""
        requests, cpu = self._ask("stats")
        return int(requests), float(cpu)

    def audit(self) -> tuple[int, int]:
        """Conversations the emulator holds, and how many of them hold anything but exactly
        one exchange with one tool call (a duplicate, or a run left active)."""
        held, off = self._ask("audit")
        return int(held), int(off)

    def _ask(self, command: str) -> list[str]:
        """The emulator process's one-line answer to `command`, split into words."""
        assert self._process is not None
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._process.stdin.write(f"{command}\n")
        self._process.stdin.flush()
        return self._process.stdout.readline().split()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._process is None:
            return
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=15)


# -- contenders ----------------------------------------------------------------------------


class Chat(Protocol):
    """One conversation of a contender."""

    async def ask(self, text: str) -> str: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class Contender:
    """A way of holding conversations: `open(base_url)` starts one (its first request made)."""

    name: str
    open: Callable[[str], Awaitable[Chat]]
    #: Called once a block of this contender is over (e.g. to stop the recorder).
    after_block: Callable[[], None] = lambda: None
    baseline: bool = False


_clients: dict[str, AsyncOpenAI] = {}


def sdk_client(base_url: str) -> AsyncOpenAI:
    """One client per base URL, as any server built on the SDK would share it."""
    client = _clients.get(base_url)
    if client is None:
        # The toolkit's timeout (`wire_to_server`'s 60 s, connecting included), not the SDK's
        # 5 s to connect: with 1,000 users the client's loop is saturated and takes longer
        # than 5 s to see a connection made, so most users failed on a timeout the toolkit
        # does not have, which compared unlike with unlike.
        client = _clients[base_url] = AsyncOpenAI(
            api_key="bench", base_url=base_url, timeout=SDK_TIMEOUT_S
        )
    return client


def _responses_tools(registry: ToolRegistry) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "name": schema["name"],
            "description": schema.get("description", ""),
            "parameters": schema["parameters"],
            "strict": False,
        }
        for schema in registry.schemas("responses")
    ]


class MinimalLoop:
    """The floor: a hand-written Responses streaming loop on `AsyncOpenAI`, tools run by the
    same registry as the toolkit's. No events, no journal, no recording, no recovery."""

    registry = demo_registry(quote_source="simulated")
    tools = _responses_tools(registry)

    def __init__(self, client: AsyncOpenAI, conversation_id: str) -> None:
        self._client = client
        self._conversation_id = conversation_id

    @classmethod
    async def open(cls, base_url: str) -> MinimalLoop:
        client = sdk_client(base_url)
        created = await client.conversations.create()
        return cls(client, created.id)

    async def ask(self, text: str) -> str:
        input_: Any = text
        while True:
            stream = await self._client.responses.create(
                model="offline-demo",
                instructions="You help with stock prices.",
                tools=self.tools,  # type: ignore[arg-type]
                input=input_,
                conversation=self._conversation_id,
                stream=True,
            )
            reply: list[str] = []
            final = None
            async for event in stream:
                if event.type == "response.output_text.delta":
                    reply.append(event.delta)
                elif event.type == "response.completed":
                    final = event.response
            assert final is not None, "the stream ended without a completed response"
            calls = [item for item in final.output if item.type == "function_call"]
            if not calls:
                return "".join(reply)
            results = await self.registry.execute_all(
                [ToolCall(c.call_id, c.name, c.arguments) for c in calls]
            )
            input_ = [
                {"type": "function_call_output", "call_id": r.call_id, "output": r.output}
                for r in results
            ]

    async def aclose(self) -> None:
        """Nothing to release: the client is shared."""


class SdkAssistantsPoll:
    """The loop the SDK's own helpers give on the Assistants protocol: `create_and_poll`,
    `submit_tool_outputs_and_poll`, then the run's messages."""

    registry = MinimalLoop.registry

    def __init__(self, client: AsyncOpenAI, thread_id: str) -> None:
        self._client = client
        self._thread_id = thread_id

    @classmethod
    async def open(cls, base_url: str) -> SdkAssistantsPoll:
        client = sdk_client(base_url)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            thread = await client.beta.threads.create()
        return cls(client, thread.id)

    async def ask(self, text: str) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            threads = self._client.beta.threads
            await threads.messages.create(self._thread_id, role="user", content=text)
            run = await threads.runs.create_and_poll(
                thread_id=self._thread_id, assistant_id=ASSISTANT_ID
            )
            while run.status == "requires_action" and run.required_action is not None:
                calls = run.required_action.submit_tool_outputs.tool_calls
                results = await self.registry.execute_all(
                    [ToolCall(c.id, c.function.name, c.function.arguments) for c in calls]
                )
                run = await threads.runs.submit_tool_outputs_and_poll(
                    run_id=run.id,
                    thread_id=self._thread_id,
                    tool_outputs=[{"tool_call_id": r.call_id, "output": r.output} for r in results],
                )
            messages = await threads.messages.list(self._thread_id, run_id=run.id)
        return "".join(
            part.text.value
            for message in messages.data
            for part in message.content
            if part.type == "text"
        )

    async def aclose(self) -> None:
        """Nothing to release: the client is shared."""


@dataclass
class Recording:
    """A sqlite file of the bench's own for the toolkit's recording-on modes (never
    ./dbstorage); the recorder is stopped after each block, so that it does not go on
    recording the other contenders' events."""

    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-")))
    #: Another database to record into (a PostgreSQL URL); the sqlite file otherwise.
    database_url: str | None = None

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.folder / 'bench.db'}"

    def settings(self, record: bool, admission: int = 0) -> conversation.Settings:
        environ = {
            "RECORD_EVENTS": str(record).lower(),
            "QUOTE_SOURCE": "simulated",
            "MAX_EXCHANGES_IN_PROGRESS": str(admission),
        }
        if record:
            environ["DATABASE_URL"] = self.url
        return conversation.load_settings(environ, dotenv_path=None)

    def stop(self) -> None:
        from persistence import start_recording  # the running recorder, if any

        start_recording(self.url, install_signals=False).close()


def toolkit(
    protocol: str,
    delivery: str,
    *,
    record: bool,
    recording: Recording,
    policy: ExchangePolicy | None = None,
    admission: int = 0,
) -> Contender:
    settings = recording.settings(record, admission)
    policy = policy or ExchangePolicy(deadline_s=120)

    async def open_chat(base_url: str) -> Chat:
        user = wire_to_server(
            base_url, protocol=protocol, delivery=delivery, policy=policy, settings=settings
        )
        await user.open()
        return user

    name = f"toolkit, {protocol.capitalize()}, {delivery}, recording {'on' if record else 'off'}"
    return Contender(name, open_chat, recording.stop if record else lambda: None)


MINIMAL = Contender("minimal SDK loop (Responses, stream)", MinimalLoop.open, baseline=True)
SDK_ASSISTANTS = Contender("SDK create_and_poll loop (Assistants)", SdkAssistantsPoll.open)


# -- figures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    """min / median / max of one measure over the blocks."""

    low: float
    median: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(min(values), statistics.median(values), max(values))

    def show(self, digits: int = 1) -> str:
        return f"{self.low:.{digits}f} / **{self.median:.{digits}f}** / {self.high:.{digits}f}"


def load_average() -> tuple[float, float, float]:
    return os.getloadavg()


def describe_machine(loads: Sequence[tuple[float, float, float]]) -> str:
    one_minute = [load[0] for load in loads]
    return (
        f"{os.cpu_count()} cores, shared; 1-minute load average {min(one_minute):.2f} to "
        f"{max(one_minute):.2f} during the run"
    )


def rotate(items: Sequence[Contender], block: int) -> list[Contender]:
    """The contenders in a different order each block, so none always runs first or last."""
    shift = block % len(items)
    return [*items[shift:], *items[:shift]]


def now() -> tuple[float, float]:
    """Wall and CPU clocks (the CPU of every thread of this process)."""
    return time.perf_counter(), time.process_time()
