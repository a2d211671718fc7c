"""The recorder's writer thread: its CPU per exchange in a live conversation, and where it goes.

    python -m bench.bench_writer_thread [--exchanges 20] [--delay 0.3]

One recording-on conversation (Responses, streamed) against the emulator in its own process;
after a warm-up exchange, `--exchanges` exchanges of one tool call then a reply. The writer
thread's own CPU clock (``pthread_getcpuclockid``) is read before and after, so the figure is
the writer's alone, not the event loop's; the batches it wrote and the CPU inside
`BatchWriter.write` and `Recorder._take_inbox` are counted too. Prints one line: to compare two
checkouts, run it alternately in each (interleaved) and compare the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import QUESTION, EmulatorProcess, Recording, toolkit  # noqa: E402
from persistence import recorder as recorder_module  # noqa: E402
from persistence.writer import BatchWriter  # noqa: E402

_threads: list[threading.Thread] = []
_cpu = {"write": 0.0, "take": 0.0}
_batches = [0]


def _timed(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return method(*args, **kwargs)
        finally:
            _cpu[name] += time.thread_time() - started

    return timed


def _instrument() -> None:
    """Note the writer thread, and count its batches and the CPU of its two main parts."""
    run = recorder_module.Recorder._run
    write = BatchWriter.write

    def noted_run(self: Any) -> None:
        _threads.append(threading.current_thread())
        run(self)

    def counted_write(self: Any, batch: Any, **options: Any) -> None:
        _batches[0] += 1
        write(self, batch, **options)

    recorder_module.Recorder._run = noted_run  # type: ignore[method-assign]
    BatchWriter.write = _timed("write", counted_write)  # type: ignore[method-assign]
    take = _timed("take", recorder_module.Recorder._take_inbox)
    recorder_module.Recorder._take_inbox = take  # type: ignore[method-assign]


def _thread_cpu(thread: threading.Thread) -> float:
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


async def measure(exchanges: int, delay: float) -> str:
    recording = Recording()
    contender = toolkit("responses", "stream", record=True, recording=recording)
    with EmulatorProcess(delay) as emulator:
        chat = await contender.open(emulator.base_url)
        try:
            await chat.ask(QUESTION)  # warm: connections, caches, the conversation's rows
            writer = _threads[-1]
            batches, cpu, spent = _batches[0], _thread_cpu(writer), dict(_cpu)
            process = time.process_time()
            for _ in range(exchanges):
                await chat.ask(QUESTION)
            cpu, process = _thread_cpu(writer) - cpu, time.process_time() - process
            batches = _batches[0] - batches
        finally:
            await chat.aclose()
            contender.after_block()
    parts = " ".join(f"{k} {1000 * (_cpu[k] - spent[k]) / exchanges:.2f}" for k in _cpu)
    return (
        f"writer CPU per exchange {1000 * cpu / exchanges:.2f} ms ({parts}); "
        f"process CPU per exchange {1000 * process / exchanges:.2f} ms; "
        f"batches per exchange {batches / exchanges:.2f}; load {os.getloadavg()[0]:.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exchanges", type=int, default=20)
    parser.add_argument("--delay", type=float, default=0.3, help="seconds per model turn")
    args = parser.parse_args()
    _instrument()
    print(asyncio.run(measure(args.exchanges, args.delay)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
