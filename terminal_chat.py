"""Chat with an assistant in the terminal: the seed's loop, plus tool calls shown live.

    python terminal_chat.py                      # offline demo, no key needed
    printf 'What is the price of AAPL?\\nexit\\n' | python terminal_chat.py
    DELIVERY=poll ASSISTANT_BACKEND=assistants python terminal_chat.py
    python terminal_chat.py --list               # conversations with an interrupted exchange
    python terminal_chat.py --resume CONVERSATION_ID

`--resume` continues a conversation; if its last exchange was interrupted (the process died),
that exchange is finished first (tool calls already made are not made again), then the chat
goes on as usual.

A tool call that needs approval (`APPROVE_TOOLS=buy_or_sell`, or the tool's own rule) is asked
about before it runs: `Approve buy_or_sell(symbol=MSFT, price=204.09)? [y/N]`; anything but
`y` or `yes` (end of input included) declines it, and the assistant is told so.

On a terminal the prompt has line editing and a history kept across sessions (prompt_toolkit;
the file is `$XDG_STATE_HOME/assistant-mediator/terminal_history`, by default under
`~/.local/state`). `exit`, end of input (Ctrl-D) and Ctrl-C end the chat cleanly; Ctrl-C
during a reply cancels the exchange first.
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
from contextlib import suppress
from pathlib import Path
from typing import Protocol

import conversation
from conversation import (
    ApprovalRequested,
    MediatorEvent,
    MessageDelta,
    ToolExecuted,
    call_summary,
    tool_call_line,
)

PROMPT = "\nUser: "
HISTORY_FILE = Path("assistant-mediator") / "terminal_history"


class Interrupted(Exception):
    """The user pressed Ctrl-C: end the chat."""


class Transcript:
    """Prints tool calls as `System:` lines as they happen, and the reply as it streams."""

    def __init__(self) -> None:
        self.streamed = False

    def __call__(self, event: MediatorEvent) -> None:
        if isinstance(event, ToolExecuted):
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
        try:
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
            except RuntimeError:  # the loop is closed: the chat ended (Ctrl-C) while we read
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


async def exchange(
    user_proxy: conversation.UserProxy, text: str | None, transcript: Transcript
) -> None:
    """One exchange: `text` sent and answered, or (None) the interrupted one finished."""
    transcript.streamed = False
    if text is not None:
        user_proxy.send_user_message(text)
    try:
        response = await reply_or_interrupt(user_proxy)
    except conversation.ExchangeError as exc:
        if transcript.streamed:
            print()
        print(f"Error: {exc}", flush=True)
        return
    if transcript.streamed:
        print(flush=True)  # end the streamed line
    else:
        print("Assistant: ")
        print(response, flush=True)


async def chat(assistant_id: str | None = None, resume: str | None = None) -> int:
    if resume is not None:
        user_proxy = conversation.resume_conversation(resume, assistant_id)
    else:
        user_proxy = conversation.start_conversation(assistant_id)
    reader = make_reader()
    transcript = Transcript()
    subscription = user_proxy.on_event(transcript, topics=[ToolExecuted.topic, MessageDelta.topic])
    approver = Approver(user_proxy, reader)
    asking = user_proxy.on_event(approver, topics=[ApprovalRequested.topic])
    try:
        if resume is None:  # a wrong ASSISTANT_ID is named now, not after the first question
            await user_proxy.check_assistant()
        if user_proxy.interrupted is not None:
            print(f"(finishing the interrupted exchange)\nUser: {user_proxy.interrupted.text}")
            for pending in user_proxy.pending_approvals:
                print(f"(it was waiting for your approval of {call_summary(pending.call)})")
            await exchange(user_proxy, None, transcript)
        while True:
            user_input = await reader.read(PROMPT)
            if user_input is None or user_input.strip().lower() == "exit":
                break
            if user_input.strip():
                await exchange(user_proxy, user_input, transcript)
    finally:
        asking.close()
        subscription.close()
        await approver.aclose()
        await user_proxy.aclose()
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
    parser = argparse.ArgumentParser(description="Chat with an assistant in the terminal.")
    parser.add_argument("--resume", metavar="CONVERSATION_ID", help="continue a conversation")
    parser.add_argument(
        "--list", action="store_true", help="list conversations with an interrupted exchange"
    )
    args = parser.parse_args(argv)
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
    except conversation.BackendError as exc:  # the assistant, checked before the first prompt
        print(f"Error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
