"""Chat with an assistant in the terminal: the seed's loop, plus tool calls shown live.

    python terminal_chat.py                      # offline demo, no key needed
    printf 'What is the price of AAPL?\\nexit\\n' | python terminal_chat.py
    DELIVERY=poll ASSISTANT_BACKEND=assistants python terminal_chat.py
    python terminal_chat.py --list               # conversations with an interrupted exchange
    python terminal_chat.py --resume CONVERSATION_ID

`--resume` continues a conversation; if its last exchange was interrupted (the process died),
that exchange is finished first (tool calls already made are not made again), then the chat
goes on as usual.

On a terminal the prompt has line editing and a history kept across sessions (prompt_toolkit;
the file is `$XDG_STATE_HOME/assistant-mediator/terminal_history`, by default under
`~/.local/state`). `exit`, `quit`, `/exit` or `/quit` (any case), end of input (Ctrl-D) and
Ctrl-C end the chat cleanly; Ctrl-C during a reply cancels the exchange first.

`SHOW_USAGE=true` prints one line of tokens and cost after each reply; `/usage` prints the
conversation's so far. `OTEL_TRACES_EXPORTER=console` prints OpenTelemetry spans (with the
extra: `pip install -r requirements-otel.txt`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any, Protocol

import conversation
from conversation import (
    ApprovalRequested,
    MediatorEvent,
    MessageDelta,
    Spend,
    ToolExecuted,
    UsageReported,
    call_summary,
    tool_call_line,
)

PROMPT = "\nUser: "
HISTORY_FILE = Path("assistant-mediator") / "terminal_history"
#: What the user types to end the chat (any case, spaces around ignored): never sent.
QUIT_WORDS = frozenset({"exit", "quit", "/exit", "/quit"})
HINT = "Type /quit (or exit, or Ctrl-D) to end the chat; /usage shows its tokens and cost."


def ends_chat(line: str) -> bool:
    """True when `line` asks to end the chat rather than to be sent."""
    return line.strip().lower() in QUIT_WORDS


class Interrupted(Exception):
    """The user pressed Ctrl-C: end the chat."""


class Transcript:
    """Prints tool calls as `System:` lines as they happen, and the reply as it streams; adds
    up the tokens and cost each exchange reports (`exchange_spend`, `spend`)."""

    def __init__(self) -> None:
        self.streamed = False
        self.exchange_spend = Spend()
        self.spend = Spend()

    def __call__(self, event: MediatorEvent) -> None:
        if isinstance(event, UsageReported):
            self.exchange_spend = self.exchange_spend.plus(event.usage, event.cost_usd)
            self.spend = self.spend.plus(event.usage, event.cost_usd)
        elif isinstance(event, ToolExecuted):
            print(f"System: {tool_call_line(event.call, event.result)}", flush=True)
        elif isinstance(event, MessageDelta):
            if not self.streamed:
                print("Assistant: ", flush=True)
                self.streamed = True
            print(event.delta, end="", flush=True)


class Reader(Protocol):
    async def read(self, prompt: str) -> str | None:
        """The next line without its newline, or None at end of input."""
        ...


class Approver:
    """Asks at the prompt about each tool call that waits for approval, one at a time.

    Listeners must not block, so a request is queued here and asked by a task; the main loop
    is waiting for the reply meanwhile, so the prompt is free (piped input answers too).
    """

    def __init__(self, user_proxy: conversation.UserProxy, reader: Reader) -> None:
        self._user = user_proxy
        self._reader = reader
        self._queue: asyncio.Queue[ApprovalRequested] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def __call__(self, event: MediatorEvent) -> None:
        if isinstance(event, ApprovalRequested):
            self._queue.put_nowait(event)
            if self._task is None or self._task.done():
                self._task = asyncio.get_running_loop().create_task(self._ask_all())

    async def _ask_all(self) -> None:
        while not self._queue.empty():
            event = self._queue.get_nowait()
            answer = await self._reader.read(f"Approve {call_summary(event.call)}? [y/N] ")
            yes = answer is not None and answer.strip().lower() in ("y", "yes")
            try:
                if yes:
                    self._user.approve(event.call.id)
                else:
                    reason = "no answer (end of input)" if answer is None else None
                    self._user.reject(event.call.id, reason)
            except conversation.ApprovalNotPendingError:
                print("(that request was already answered, or timed out)", flush=True)

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task


def history_path() -> Path:
    """Where the prompt's history lives (XDG state directory), created private on first use."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    path = Path(state) / HISTORY_FILE
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():  # messages may be private: nobody else reads the history
        path.touch(mode=0o600)
    return path


class TerminalReader:
    """The prompt on a terminal: line editing, history across sessions, no line-length cap.

    prompt_toolkit reads the terminal in raw mode, so the kernel's canonical-mode line limit
    (4,095 characters) does not cut long messages, and arrow keys edit instead of inserting
    escape sequences. Ctrl-C at the prompt raises `Interrupted`; Ctrl-D ends the input.
    """

    def __init__(self) -> None:
        from prompt_toolkit import PromptSession  # imported only for a terminal
        from prompt_toolkit.history import FileHistory

        history = None
        with suppress(OSError):  # an unwritable home must not stop the chat
            history = FileHistory(str(history_path()))
        self._session: PromptSession[str] = PromptSession(history=history)

    async def read(self, prompt: str) -> str | None:
        from prompt_toolkit.patch_stdout import patch_stdout

        try:
            # What another thread prints meanwhile (the conversation being built, see
            # `Warmup`) appears above the prompt, not inside the line being typed.
            with patch_stdout():
                return await self._session.prompt_async(prompt)
        except KeyboardInterrupt:
            raise Interrupted from None
        except EOFError:
            print(flush=True)  # Ctrl-D: leave the shell's prompt on a line of its own
            return None


class LineReader:
    """Reads piped input lines on a daemon thread, so the event loop never waits on the pipe.

    A daemon thread (rather than `asyncio.to_thread`) because a read blocked on an open pipe
    must not keep the interpreter alive after Ctrl-C: the loop's executor threads are joined
    at shutdown, daemon threads are not.
    """

    def __init__(self, interactive: bool) -> None:
        self._interactive = interactive
        self._requests: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: asyncio.Future[str | None] | None = None

    def _run(self) -> None:
        while True:
            prompt = self._requests.get()
            try:
                line: str | None = input(prompt) if self._interactive else sys.stdin.readline()
            except EOFError:
                line = None
            if line == "" and not self._interactive:
                line = None
            assert self._loop is not None
            try:
                self._loop.call_soon_threadsafe(self._deliver, line)
            except RuntimeError:  # the chat ended (Ctrl-C) while this read was waiting
                return

    def _deliver(self, line: str | None) -> None:
        if self._pending is not None and not self._pending.done():
            self._pending.set_result(line)

    async def read(self, prompt: str) -> str | None:
        self._loop = asyncio.get_running_loop()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="stdin", daemon=True)
            self._thread.start()
        self._pending = self._loop.create_future()
        self._requests.put(prompt)
        line = await self._pending
        if line is None:
            return None
        line = line.rstrip("\n")
        if not self._interactive:
            print(f"{prompt}{line}", flush=True)  # echo piped input so the transcript reads well
        return line


def make_reader() -> Reader:
    if sys.stdin.isatty() and sys.stdout.isatty():
        return TerminalReader()
    return LineReader(interactive=sys.stdin.isatty())


async def reply_or_interrupt(user_proxy: conversation.UserProxy) -> str:
    """The reply; Ctrl-C cancels the exchange, waits for it to end, then raises `Interrupted`.

    SIGINT is caught here rather than left to `asyncio.run` (which would cancel this task):
    the exchange is cancelled through the conversation and its outcome awaited, so no error
    is left unretrieved. A second Ctrl-C while cancelling restores the default behaviour.
    """
    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()

    def on_sigint() -> None:
        interrupted.set()
        loop.remove_signal_handler(signal.SIGINT)

    reply = asyncio.ensure_future(user_proxy.get_assistant_message())
    stop = asyncio.ensure_future(interrupted.wait())
    loop.add_signal_handler(signal.SIGINT, on_sigint)
    try:
        await asyncio.wait({reply, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        stop.cancel()
    if not reply.done():
        await user_proxy.cancel()
        with suppress(conversation.ExchangeError):
            await reply  # the cancelled exchange's outcome, retrieved
        raise Interrupted
    return reply.result()


def usage_line(transcript: Transcript) -> str:
    """One line: this exchange's tokens and cost, then the conversation's so far."""
    return f"Usage: {transcript.exchange_spend} · conversation: {transcript.spend}"


async def exchange(
    user_proxy: conversation.UserProxy,
    text: str | None,
    transcript: Transcript,
    *,
    show_usage: bool = False,
) -> None:
    """One exchange: `text` sent and answered, or (None) the interrupted one finished."""
    transcript.streamed = False
    transcript.exchange_spend = Spend()
    if text is not None:
        user_proxy.send_user_message(text)
    try:
        response = await reply_or_interrupt(user_proxy)
    except conversation.ExchangeError as exc:
        if transcript.streamed:
            print()
        print(f"Error: {exc}", flush=True)
    else:
        if transcript.streamed:
            print(flush=True)  # end the streamed line
        else:
            print("Assistant: ")
            print(response, flush=True)
    if show_usage:
        print(usage_line(transcript), flush=True)


class Warmup:
    """The new conversation, built on a worker thread while the first prompt waits for the user.

    Building it loads the SDK, the recorder's database layer and (offline) the emulator: about
    two seconds that the user spends typing the first message instead of watching an empty
    terminal. A daemon thread, so Ctrl-C at the prompt never waits for it; its error (a
    database that cannot be used, a bad setting) is raised where the conversation is first
    needed.
    """

    def __init__(self, settings: conversation.Settings, assistant_id: str | None) -> None:
        self._done = threading.Event()
        self._user: conversation.UserProxy | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._build, args=(settings, assistant_id), name="warmup", daemon=True
        )
        self._thread.start()

    def _build(self, settings: conversation.Settings, assistant_id: str | None) -> None:
        try:
            self._user = conversation.start_conversation(assistant_id, settings=settings)
        except BaseException as exc:  # handed to the main thread by `result`
            self._error = exc
        finally:
            self._done.set()

    async def result(self) -> conversation.UserProxy:
        if not self._done.is_set():
            await asyncio.to_thread(self._done.wait)
        if self._error is not None:
            raise self._error
        assert self._user is not None
        return self._user


class Session:
    """The chat's conversation, ready when first needed, with the transcript listening.

    A new conversation also checks its assistant when it is ready, so a wrong ASSISTANT_ID is
    named at start (while the user types), not after the first question.
    """

    def __init__(
        self, warmup: Warmup | conversation.UserProxy, reader: Reader, *, check: bool = False
    ) -> None:
        self._pending = warmup
        self._reader = reader
        self._check = check
        self._approver: Approver | None = None
        self._asking: Callable[[], None] | None = None
        self.transcript = Transcript()
        self.user: conversation.UserProxy | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._readying: asyncio.Future[conversation.UserProxy] | None = None

    def start(self) -> asyncio.Future[conversation.UserProxy]:
        """Get ready in the background (once); the same future on every call."""
        if self._readying is None:
            self._readying = asyncio.ensure_future(self._get_ready())
        return self._readying

    async def ready(self) -> conversation.UserProxy:
        return await asyncio.shield(self.start())

    async def _get_ready(self) -> conversation.UserProxy:
        pending = self._pending
        user = await pending.result() if isinstance(pending, Warmup) else pending
        topics = [ToolExecuted.topic, MessageDelta.topic, UsageReported.topic]
        self._unsubscribe = user.on_event(self.transcript, topics=topics).close
        self._approver = Approver(user, self._reader)
        self._asking = user.on_event(self._approver, topics=[ApprovalRequested.topic]).close
        self.user = user
        if self._check:
            await user.check_assistant()
        return user

    async def read(self, reader: Reader) -> str | None:
        """The next line; raises at once if getting ready failed meanwhile (a wrong assistant)."""
        read = asyncio.ensure_future(reader.read(PROMPT))
        readying = self.start()
        if not readying.done():
            waiting: set[asyncio.Future[Any]] = {read, readying}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if readying.done() and readying.exception() is not None:
            read.cancel()
            await asyncio.gather(read, return_exceptions=True)
            readying.result()  # raises the failure
        return await read

    async def aclose(self) -> None:
        if self._readying is not None and not self._readying.done():
            self._readying.cancel()
            await asyncio.gather(self._readying, return_exceptions=True)
        if self._asking is not None:
            self._asking()
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._approver is not None:
            await self._approver.aclose()
        if self.user is not None:
            await self.user.aclose()


async def chat(assistant_id: str | None = None, resume: str | None = None) -> int:
    # Settings are read here, so that a bad one is reported before the prompt.
    settings = conversation.load_settings()
    reader = make_reader()
    if resume is not None:
        session = Session(conversation.resume_conversation(resume, assistant_id), reader)
    else:
        session = Session(Warmup(settings, assistant_id), reader, check=True)
    show_usage = settings.show_usage
    try:
        if resume is not None:
            user_proxy = await session.ready()
            if user_proxy.interrupted is not None:
                print(f"(finishing the interrupted exchange)\nUser: {user_proxy.interrupted.text}")
                for pending in user_proxy.pending_approvals:
                    print(f"(it was waiting for your approval of {call_summary(pending.call)})")
                await exchange(user_proxy, None, session.transcript, show_usage=show_usage)
        if sys.stdin.isatty():  # a person at a terminal: say how to leave
            print(HINT, flush=True)
        while True:
            user_input = await session.read(reader)
            if user_input is None or ends_chat(user_input):
                break
            if user_input.strip().lower() == "/usage":
                print(f"Usage of this conversation: {session.transcript.spend}", flush=True)
            elif user_input.strip():
                user_proxy = await session.ready()
                await exchange(user_proxy, user_input, session.transcript, show_usage=show_usage)
    finally:
        await session.aclose()
    return 0


def list_unfinished() -> int:
    unfinished = conversation.unfinished_conversations()
    if not unfinished:
        print("No conversation has an interrupted exchange.")
    for exchange in unfinished:
        print(f"{exchange.conversation_id}  {one_line(exchange.text)}")
    return 0


def one_line(text: str, limit: int = 70) -> str:
    """The message on one line, cut to `limit` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def main(argv: list[str] | None = None) -> int:
    # The transcript already shows what went wrong (a failed tool is a `System:` line, a failed
    # exchange an `Error:` line); library warnings would repeat it as noise on the terminal.
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(
        description="Chat with an assistant in the terminal.",
        epilog="At the prompt, exit, quit, /exit or /quit (or Ctrl-D, Ctrl-C) ends the chat; "
        "/usage shows the conversation's tokens and cost so far.",
    )
    parser.add_argument("--resume", metavar="CONVERSATION_ID", help="continue a conversation")
    parser.add_argument(
        "--list", action="store_true", help="list conversations with an interrupted exchange"
    )
    args = parser.parse_args(argv)
    if problem := conversation.configure_tracing():
        print(problem, file=sys.stderr)
    try:
        if args.list:
            return list_unfinished()
        return asyncio.run(chat(resume=args.resume))
    except (KeyboardInterrupt, Interrupted):
        print("\nBye.", file=sys.stderr)
        return 0
    except conversation.SettingsError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2
    except conversation.PersistenceError as exc:  # --list or --resume need the database
        print(f"Database error: {exc}", file=sys.stderr)
        return 1
    except conversation.BackendError as exc:  # the assistant, checked while the prompt waits
        print(f"Error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
