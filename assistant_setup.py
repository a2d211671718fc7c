"""Create the demo stock assistant from the tool registry's schemas and print its id.

    python assistant_setup.py                 # create it, print the id
    python assistant_setup.py --write-env     # ...and store it as ASSISTANT_ID in .env
    python assistant_setup.py --model gpt-4o-mini

The tool definitions come from `tools/` (schemas built from the functions' signatures), so
they cannot drift from the code that runs them.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from pathlib import Path

from conversation.demo import DEMO_ASSISTANT_ID, demo_definition
from conversation.settings import SettingsError, load_settings
from conversation.wiring import make_backend
from persistence import PersistenceError
from proxies.errors import BackendError


def write_env(path: Path, assistant_id: str) -> None:
    """Set ASSISTANT_ID in the .env file, keeping every other line."""
    line = f"ASSISTANT_ID={assistant_id}"
    text = path.read_text() if path.exists() else ""
    if re.search(r"^ASSISTANT_ID=.*$", text, flags=re.MULTILINE):
        text = re.sub(r"^ASSISTANT_ID=.*$", line, text, flags=re.MULTILINE)
    else:
        text = f"{text}{'' if not text or text.endswith(chr(10)) else chr(10)}{line}\n"
    path.write_text(text)


async def create(model: str) -> tuple[str, bool]:
    """Create the assistant; also say whether it lives only as long as this process."""
    settings = load_settings()
    backend = make_backend(settings)
    # Offline, the Assistants protocol keeps assistants in the in-process emulator; the
    # Responses definitions are stored in the toolkit's database and outlive the process.
    ephemeral = settings.offline and settings.protocol == "assistants"
    try:
        return await backend.create_assistant(demo_definition(model)), ephemeral
    finally:
        await backend.aclose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gpt-4o-mini", help="model for the assistant")
    parser.add_argument("--write-env", action="store_true", help="write ASSISTANT_ID to .env")
    parser.add_argument("--env-file", default=".env", type=Path, help="the .env file to update")
    args = parser.parse_args(argv)
    try:
        assistant_id, ephemeral = asyncio.run(create(args.model))
    except (SettingsError, BackendError, PersistenceError) as exc:
        print(f"Could not create the assistant: {exc}", file=sys.stderr)
        return 1
    print(assistant_id)
    to_store = assistant_id
    if ephemeral:
        print(
            f"(offline emulator: this assistant lives only as long as this process; the demo "
            f"assistant {DEMO_ASSISTANT_ID} is always there)",
            file=sys.stderr,
        )
        to_store = DEMO_ASSISTANT_ID
    if args.write_env:
        write_env(args.env_file, to_store)
        print(f"ASSISTANT_ID={to_store} written to {args.env_file}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
