"""``python -m emulator``: serve the emulator standalone with uvicorn (Ctrl-C to stop)."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from .common.app import build_app
from .common.config import EmulatorConfig
from .common.profiles import PROFILES
from .common.server import KEEP_ALIVE_S
from .common.state import EmulatorState
from .demo.model import DemoStockModel


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m emulator",
        description="Offline OpenAI-compatible server: Assistants v2, Responses, Chat Completions "
        "(demo stock model).",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: %(default)s)"
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    parser.add_argument("--state-file", type=Path, default=None, help="JSON file to keep state in")
    parser.add_argument("--run-ttl", type=float, default=600.0, help="seconds until a run expires")
    parser.add_argument(
        "--poll-after-ms", type=int, default=100, help="openai-poll-after-ms header value"
    )
    parser.add_argument("--queue-delay", type=float, default=0.05, help="seconds runs stay queued")
    parser.add_argument("--model-delay", type=float, default=0.0, help="seconds added per turn")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    parser.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="openai",
        help="the server to behave like: openai (everything), stateless (Responses without "
        "state: Ollama, vLLM), chained (Responses kept: LM Studio, SGLang), chat (Chat "
        "Completions only) (default: %(default)s)",
    )
    parser.add_argument("--log-level", default="info", help="uvicorn log level")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    config = EmulatorConfig(
        run_ttl=args.run_ttl,
        poll_after_ms=args.poll_after_ms,
        queue_delay=args.queue_delay,
        model_delay=args.model_delay,
        latency=args.latency,
        state_file=args.state_file,
        profile=args.profile,
    )
    model = DemoStockModel()
    state = EmulatorState(config, lambda: model)
    uvicorn.run(
        build_app(state),
        host=args.host,
        port=args.port,
        http="h11",
        lifespan="on",
        log_level=args.log_level,
        timeout_graceful_shutdown=2,
        timeout_keep_alive=KEEP_ALIVE_S,  # see EmulatorServer.start
    )


if __name__ == "__main__":
    main()
