"""The server as a whole: restarts with a state file, the CLI, concurrency, bounded stop, API."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
from openai import AsyncOpenAI

import emulator
from emulator import (
    DEMO_ASSISTANT_ID,
    CallTools,
    EmulatorServer,
    Reply,
    ScriptedModel,
    Stall,
    ToolSpec,
)

from .conftest import make_client, wait_for
from .helpers import answer_all, reply_text, run_to_pause

REPO = Path(__file__).resolve().parents[2]
BETA = {"OpenAI-Beta": "assistants=v2"}


def test_state_file_keeps_ids_across_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "state" / "emulator.json"
    first_model = ScriptedModel([Reply("saved answer"), CallTools([ToolSpec("a")])])
    with EmulatorServer(first_model, state_file=path) as first, make_client(first) as client:
        assistant = client.beta.assistants.create(model="m", name="kept")
        done = run_to_pause(client, "remember me")
        paused = run_to_pause(client, "pause here")
        assert paused.status == "requires_action"
    assert path.exists()

    with EmulatorServer(ScriptedModel([Reply("after restart")]), state_file=path) as second:
        with make_client(second) as client:
            assert client.beta.assistants.retrieve(assistant.id).name == "kept"
            assert [a.id for a in client.beta.assistants.list()].count(DEMO_ASSISTANT_ID) == 1
            again = client.beta.threads.runs.retrieve(done.id, thread_id=done.thread_id)
            assert again.status == "completed"
            assert reply_text(client, again) == "saved answer"
            client.beta.threads.messages.create(
                thread_id=done.thread_id, role="user", content="new"
            )
            texts = [
                m.content[0].text.value
                for m in client.beta.threads.messages.list(thread_id=done.thread_id, order="asc")
                if m.content[0].type == "text"
            ]
            assert texts == ["remember me", "saved answer", "new"]

            resumed = answer_all(client, paused)
            assert resumed.status == "completed"
            assert reply_text(client, resumed) == "after restart"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_python_dash_m_emulator_serves_until_terminated(tmp_path: Path) -> None:
    port = _free_port()
    state = tmp_path / "cli-state.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [
        sys.executable, "-m", "emulator", "--host", "127.0.0.1", "--port", str(port),
        "--state-file", str(state), "--run-ttl", "30", "--poll-after-ms", "25",
        "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        url = f"http://127.0.0.1:{port}/v1/assistants/{DEMO_ASSISTANT_ID}"

        def ready() -> httpx.Response | None:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            try:
                return httpx.get(url, headers=BETA, timeout=1)
            except httpx.TransportError:
                return None

        answer = wait_for(ready, timeout=20, interval=0.05)
        assert answer.status_code == 200
        assert answer.json()["id"] == DEMO_ASSISTANT_ID
        thread = httpx.post(f"http://127.0.0.1:{port}/v1/threads", headers=BETA, json={}).json()
        assert thread["id"].startswith("thread_")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stdout:
            process.stdout.close()
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert process.returncode in (0, -signal.SIGTERM)
    assert thread["id"] in state.read_text()


async def test_fifty_concurrent_runs_progress_in_parallel() -> None:
    """Fifty runs are in progress at the same time: the server never serves them in turn.

    The model stalls every run, so a server that worked on one run at a time would never get
    past the first; no timing is compared (that belongs in the benchmarks).
    """
    with EmulatorServer(lambda context: Stall(), queue_delay=0.01) as server:
        async with AsyncOpenAI(
            base_url=server.base_url, api_key="k", _strict_response_validation=True
        ) as client:

            async def start(index: int) -> tuple[str, str]:
                thread = await client.beta.threads.create(
                    messages=[{"role": "user", "content": f"q{index}"}]
                )
                run = await client.beta.threads.runs.create(
                    thread_id=thread.id, assistant_id=DEMO_ASSISTANT_ID
                )
                return thread.id, run.id

            runs = await asyncio.gather(*(start(i) for i in range(50)))

            async def status(thread_id: str, run_id: str) -> str:
                run = await client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
                return run.status

            async with asyncio.timeout(180):  # generous: the state is what is waited for
                while True:
                    statuses = await asyncio.gather(*(status(t, r) for t, r in runs))
                    if statuses == ["in_progress"] * 50:
                        break
                    await asyncio.sleep(0.05)


def test_stop_is_bounded_even_with_an_open_stream() -> None:
    server = EmulatorServer(ScriptedModel([Stall()])).start()
    with make_client(server) as client:
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
        frames: list[str] = []

        def listen() -> None:
            with httpx.stream(
                "POST",
                f"{server.base_url}/threads/{thread.id}/runs",
                headers=BETA,
                json={"assistant_id": DEMO_ASSISTANT_ID, "stream": True},
                timeout=30,
            ) as answer:
                frames.extend(answer.iter_lines())

        listener = threading.Thread(target=listen)
        listener.start()
        wait_for(lambda: any("thread.run.in_progress" in line for line in frames) or None)
        started = time.monotonic()
        server.stop()
        listener.join(10)
    assert time.monotonic() - started < 3
    assert not listener.is_alive()
    assert not server.running


def test_importing_emulator_has_no_side_effects_and_no_openai() -> None:
    code = (
        "import sys, threading; import emulator; "
        "assert 'openai' not in sys.modules, 'emulator imported openai'; "
        "assert threading.active_count() == 1; print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_public_api_is_pinned() -> None:
    assert sorted(emulator.__all__) == sorted(
        [
            "BUY_OR_SELL_TOOL",
            "DEMO_ASSISTANT_ID",
            "GET_STOCK_PRICE_TOOL",
            "CallTools",
            "DemoStockModel",
            "EmulatorConfig",
            "EmulatorServer",
            "Expire",
            "Fail",
            "Fault",
            "FaultSet",
            "Holdings",
            "Incomplete",
            "Model",
            "Reply",
            "ScriptExhaustedError",
            "ScriptedModel",
            "Stall",
            "ThreadMessage",
            "ToolExchange",
            "ToolSpec",
            "Turn",
            "TurnContext",
        ]
    )
    for name in emulator.__all__:
        assert getattr(emulator, name) is not None
    assert emulator.DEMO_ASSISTANT_ID == "asst_demo_stock"


def test_server_addresses_and_restart() -> None:
    server = EmulatorServer()
    assert not server.running
    with server:
        assert server.base_url == f"http://127.0.0.1:{server.port}/v1"
        port = server.port
        server.restart()
        assert server.port == port
        assert httpx.get(f"{server.base_url}/assistants", headers=BETA).status_code == 200
    assert not server.running
