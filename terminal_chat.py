"""Chat with an assistant in the terminal: the seed's loop, plus tool calls shown live.

    python terminal_chat.py                      # offline demo, no key needed
    printf 'What is the price of AAPL?\\nexit\\n' | python terminal_chat.py

`exit`, end of input (Ctrl-D) and Ctrl-C end the chat cleanly.
"""

from __future__ import annotations

import asyncio
import sys

import conversation
from mediator.events import MediatorEvent, ToolExecuted


def _show_tool_call(event: MediatorEvent) -> None:
    if isinstance(event, ToolExecuted):
        status = " (error)" if event.result.is_error else ""
        print(
            f"System: {event.call.name}({event.call.arguments}) -> {event.result.output}{status}",
            flush=True,
        )


async def _read_line(prompt: str, interactive: bool) -> str | None:
    """One line of input without blocking the event loop; None at end of input."""
    try:
        if interactive:
            return await asyncio.to_thread(input, prompt)
        line = await asyncio.to_thread(sys.stdin.readline)
    except EOFError:
        return None
    if not line:
        return None
    line = line.rstrip("\n")
    print(f"{prompt}{line}", flush=True)  # echo piped input so the transcript reads well
    return line


async def chat(assistant_id: str | None = None) -> int:
    user_proxy = conversation.start_conversation(assistant_id)
    interactive = sys.stdin.isatty()
    subscription = user_proxy.on_event(_show_tool_call, topics=[ToolExecuted.topic])
    try:
        while True:
            user_input = await _read_line("\nUser: ", interactive)
            if user_input is None or user_input.strip().lower() == "exit":
                break
            if not user_input.strip():
                continue
            user_proxy.send_user_message(user_input)
            try:
                response = await user_proxy.get_assistant_message()
            except conversation.ExchangeError as exc:
                print(f"Error: {exc}", flush=True)
                continue
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
