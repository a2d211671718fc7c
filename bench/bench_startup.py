"""Start-up: the terminal chat's first prompt and the two pages' first run, against the time
of `python -c "import openai"`, measured interleaved on this machine.

    python -m bench.bench_startup [--runs 5]

The terminal runs offline (no key) on a pseudo-terminal, as a user starts it; the time is
until `User:` is on the screen. A page's first run is Streamlit's AppTest running the script
once in a fresh process (imports included), without the browser. Writes
`bench/results/startup.md`.
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import publish

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "startup.md"
DEADLINE_S = 120.0

PAGE_RUN = """
import sys, time
from streamlit.testing.v1 import AppTest
start = time.perf_counter()
app = AppTest.from_file(sys.argv[1], default_timeout=120)
app.run()
assert not app.exception, app.exception
print(time.perf_counter() - start)
"""


def _environment(folder: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm", "XDG_STATE_HOME": folder}
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    env["DATABASE_URL"] = f"sqlite:///{folder}/startup.db"
    env["QUOTE_SOURCE"] = "simulated"
    return env


def import_openai() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import openai"], check=True, timeout=DEADLINE_S)
    return time.perf_counter() - start


def first_prompt() -> float:
    """Seconds until the terminal chat shows `User:` on a pty (then it is told `exit`)."""
    folder = tempfile.mkdtemp(prefix="bench-startup-")
    start = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: the chat, as a user starts it
        os.chdir(folder)
        script = str(ROOT / "terminal_chat.py")
        os.execve(sys.executable, [sys.executable, script], _environment(folder))
    seen = b""
    deadline = time.monotonic() + DEADLINE_S
    while b"User:" not in seen:
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            raise RuntimeError(f"no prompt within {DEADLINE_S:g} s; saw {seen[-300:]!r}")
        if select.select([fd], [], [], 1.0)[0]:
            seen += os.read(fd, 4096)
    elapsed = time.perf_counter() - start
    os.write(fd, b"exit\r")
    deadline = time.monotonic() + DEADLINE_S
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            break
        if select.select([fd], [], [], 0.2)[0]:
            try:
                os.read(fd, 4096)
            except OSError:  # the pty closed: the chat has ended
                pass
    os.close(fd)
    return elapsed


def page_first_run(page: str) -> float:
    folder = tempfile.mkdtemp(prefix="bench-startup-")
    result = subprocess.run(
        [sys.executable, "-c", PAGE_RUN, str(ROOT / page)],
        cwd=folder,
        env=_environment(folder),
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def show(values: list[float]) -> str:
    return f"{min(values):.2f} / **{statistics.median(values):.2f}** / {max(values):.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    measures = {
        'python -c "import openai"': import_openai,
        "terminal chat, first prompt": first_prompt,
        "chat page, first run": lambda: page_first_run("streamlit-chat.py"),
        "history page, first run": lambda: page_first_run("streamlit-history.py"),
    }
    times: dict[str, list[float]] = {name: [] for name in measures}
    loads = [os.getloadavg()[0]]
    for run in range(args.runs):
        for name, measure in measures.items():
            times[name].append(measure())
        loads.append(os.getloadavg()[0])
        print(f"run {run + 1}/{args.runs} done, load {loads[-1]:.2f}", flush=True)
    floor = statistics.median(times['python -c "import openai"'])
    lines = [
        f"{args.runs} interleaved runs; {os.cpu_count()} cores, shared; 1-minute load average "
        f"{min(loads):.2f} to {max(loads):.2f}. Seconds, min / **median** / max; the ratio "
        'divides medians by `python -c "import openai"` from the same run.',
        "",
        "| what | seconds | ratio |",
        "|---|---|---|",
    ]
    for name, values in times.items():
        lines.append(f"| {name} | {show(values)} | {statistics.median(values) / floor:.2f}x |")
    text = "\n".join(lines) + "\n"
    publish(text, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
