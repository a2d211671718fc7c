"""A conversation in a process of its own, for the kill tests (issue 10).

    python -m tests.persistence.kill_child start  --base-url URL --db URL --protocol P --delivery D
    python -m tests.persistence.kill_child resume CONVERSATION_ID (same options)

`start` prints ``CONVERSATION <id>`` once the conversation exists, then asks for the price of
AAPL and prints ``REPLY <text>``. `resume` finishes the interrupted exchange (``RESUMED
<text>``) and asks one more question (``NEXT <text>``). The tool `get_stock_price` appends
``start <call id>`` and ``done <call id>`` to the file named by ``COUNTER_FILE``, and, while
the file named by ``BLOCK_FILE`` exists, blocks after ``start``: the parent kills the process
there. With ``--approve``, `get_stock_price` needs approval, which `start` never gives (the
parent kills it while it waits) and `resume` gives at once to each call the journal shows
pending (``PENDING <name> <arguments>``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

import conversation
from tools import ToolRegistry, buy_or_sell, function_tool


def _registry(idempotent: bool) -> ToolRegistry:
    counter = Path(os.environ["COUNTER_FILE"])
    block = Path(os.environ["BLOCK_FILE"])

    def note(line: str) -> None:
        with counter.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
            out.flush()
            os.fsync(out.fileno())

    @function_tool(idempotent=idempotent)
    def get_stock_price(symbol: str) -> str:
        """Get the current price of a stock.

        Args:
            symbol: The ticker symbol.
        """
        from tools import current_call

        call = current_call()
        assert call is not None
        note(f"start {call.id}")
        deadline = time.monotonic() + 120
        while block.exists() and time.monotonic() < deadline:  # the parent kills us here
            time.sleep(0.01)
        note(f"done {call.id}")
        return json.dumps({"symbol": symbol.upper(), "price": 123.45, "source": "simulated"})

    return ToolRegistry([get_stock_price, buy_or_sell])


def _settings(args: argparse.Namespace) -> conversation.Settings:
    return conversation.load_settings(
        {
            "APPROVE_TOOLS": "get_stock_price" if args.approve else "",
            "OPENAI_API_KEY": "not-a-secret",
            "OPENAI_BASE_URL": args.base_url,
            "ASSISTANT_ID": "asst_demo_stock",
            "ASSISTANT_BACKEND": args.protocol,
            "DELIVERY": args.delivery,
            "DATABASE_URL": args.db,
            "EXCHANGE_DEADLINE_S": "90",
        },
        dotenv_path=None,
    )


def say(line: str) -> None:
    print(line.replace("\n", " "), flush=True)


async def start(args: argparse.Namespace) -> None:
    user = conversation.start_conversation(
        settings=_settings(args), registry=_registry(args.idempotent)
    )
    say(f"CONVERSATION {await user.open()}")
    say(f"REPLY {await user.ask('What is the price of AAPL?')}")
    await user.aclose()


async def resume(args: argparse.Namespace) -> None:
    user = conversation.resume_conversation(
        args.conversation, settings=_settings(args), registry=_registry(args.idempotent)
    )
    for pending in user.pending_approvals:
        say(f"PENDING {pending.call.name} {pending.call.arguments}")
        user.approve(pending.call.id, who="resumer")
    if user.interrupted is None:
        say("NOTHING TO RESUME")
    else:
        say(f"RESUMED {await user.get_assistant_message()}")
    say(f"NEXT {await user.ask('And the price of MSFT?')}")
    await user.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["start", "resume"])
    parser.add_argument("conversation", nargs="?")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--protocol", required=True)
    parser.add_argument("--delivery", required=True)
    parser.add_argument("--idempotent", action="store_true")
    parser.add_argument("--approve", action="store_true")
    args = parser.parse_args()
    asyncio.run(start(args) if args.mode == "start" else resume(args))


if __name__ == "__main__":
    sys.exit(main())
