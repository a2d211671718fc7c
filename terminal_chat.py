"""Chat with an assistant in the terminal: the seed's loop, plus tool calls shown live.

    python terminal_chat.py                      # offline demo, no key needed
    printf 'What is the price of AAPL?\\nexit\\n' | python terminal_chat.py
    DELIVERY=poll ASSISTANT_BACKEND=assistants python terminal_chat.py

`exit`, end of input (Ctrl-D) and Ctrl-C end the chat cleanly.
"""

from __future__ import annotations

import asyncio
import queue
import sys
import threading

import conversation
from conversation import MediatorEvent, MessageDelta, ToolExecuted, tool_call_line


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


class LineReader:
    """Reads input lines on a daemon thread, so the event loop never waits on the terminal.

    A daemon thread (rather than `asyncio.to_thread`) because a read blocked on an open pipe
    or terminal must not keep the interpreter alive after Ctrl-C: the loop's executor threads
    are joined at shutdown, daemon threads are not.
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
            self._loop.call_soon_threadsafe(self._deliver, line)

    def _deliver(self, line: str | None) -> None:
        if self._pending is not None and not self._pending.done():
            self._pending.set_result(line)

    async def read(self, prompt: str) -> str | None:
        """The next line without its newline, or None at end of input."""
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


async def chat(assistant_id: str | None = None) -> int:
    user_proxy = conversation.start_conversation(assistant_id)
    reader = LineReader(interactive=sys.stdin.isatty())
    transcript = Transcript()
    subscription = user_proxy.on_event(transcript, topics=[ToolExecuted.topic, MessageDelta.topic])
    try:
        while True:
            user_input = await reader.read("\nUser: ")
            if user_input is None or user_input.strip().lower() == "exit":
                break
            if not user_input.strip():
                continue
            transcript.streamed = False
            user_proxy.send_user_message(user_input)
            try:
                response = await user_proxy.get_assistant_message()
            except conversation.ExchangeError as exc:
                if transcript.streamed:
                    print()
                print(f"Error: {exc}", flush=True)
                continue
            if transcript.streamed:
                print(flush=True)  # end the streamed line
            else:
                print("Assistant: ")
                print(response, flush=True)
    finally:
        subscription.close()
        await user_proxy.aclose()
    return 0


def main() -> int:
    try:
        return asyncio.run(chat())
    except KeyboardInterrupt:
        print("\nBye.", file=sys.stderr)
        return 0
    except conversation.SettingsError as exc:
        print(f"Configuration error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
