"""Issue 13: OpenTelemetry spans from the event stream (the optional extra).

Real exchanges (the SDK over HTTP to the emulator) with the span listener on an SDK tracer
provider whose spans land in memory: one exchange span, its model-call and tool children
correctly parented with usage attributes, an error status for a failed exchange, and never the
API key (a canary key, content capture on). Then the apps: `OTEL_TRACES_EXPORTER=console`
prints spans, and without the extra everything runs as before.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "opentelemetry.sdk", reason=f"the extra: {'pip install -r requirements-otel.txt'}"
)

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (  # noqa: E402
    InMemorySpanExporter,
)
from opentelemetry.trace import StatusCode  # noqa: E402

from conversation.catalog import demo_catalog  # noqa: E402
from conversation.otel_spans import SpanListener  # noqa: E402
from conversation.settings import Settings  # noqa: E402
from conversation.tracing import configure_tracing  # noqa: E402
from conversation.wiring import wire  # noqa: E402
from emulator import CallTools, EmulatorServer, Fail, Reply, ScriptedModel, ToolSpec  # noqa: E402
from mediator.bus import subscribe  # noqa: E402
from mediator.errors import ExchangeFailedError  # noqa: E402
from proxies.backends.factory import create_backend  # noqa: E402
from tests.integration.conftest import FAST_POLICY  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
# Made at run time: a key-shaped literal in the source would be indistinguishable from a leak.
CANARY = f"canary-{uuid.uuid4().hex}"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Spans of every conversation in this test, in memory (content capture on)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    listener = SpanListener(provider.get_tracer("test"), capture_content=True)
    with subscribe(listener):
        yield exporter
    provider.shutdown()


async def _ask(emulator: EmulatorServer, text: str) -> str:
    backend = create_backend(
        "responses", api_key=CANARY, base_url=emulator.base_url, catalog=demo_catalog()
    )
    settings = Settings.model_validate({"RECORD_EVENTS": False, "QUOTE_SOURCE": "simulated"})
    user = wire("asst_demo_stock", settings, backend=backend, policy=FAST_POLICY)
    try:
        return await user.ask(text)
    finally:
        await user.aclose()


def _everything(span: ReadableSpan) -> str:
    """All a span says, as text: name, attributes, status, events, resource."""
    parts: list[Any] = [span.name, dict(span.attributes or {}), span.status.description]
    parts += [(e.name, dict(e.attributes or {})) for e in span.events]
    parts.append(dict(span.resource.attributes))
    return repr(parts)


async def test_an_exchange_with_two_tool_calls_is_one_span_with_its_calls_and_tools(
    emulator: EmulatorServer, spans: InMemorySpanExporter
) -> None:
    emulator.model = ScriptedModel(
        [
            CallTools(
                [
                    ToolSpec("get_stock_price", {"symbol": "AAPL"}),
                    ToolSpec("get_stock_price", {"symbol": "MSFT"}),
                ]
            ),
            Reply("AAPL and MSFT are both up."),
        ]
    )
    assert await _ask(emulator, "AAPL and MSFT?") == "AAPL and MSFT are both up."
    finished = spans.get_finished_spans()
    (exchange,) = [s for s in finished if s.name.startswith("invoke_agent")]
    tools = [s for s in finished if s.name.startswith("execute_tool")]
    calls = [s for s in finished if s.name.startswith("chat")]
    assert len(finished) == 5
    assert exchange.name == "invoke_agent asst_demo_stock"
    assert exchange.parent is None
    assert exchange.status.status_code is StatusCode.UNSET
    assert [s.name for s in tools] == ["execute_tool get_stock_price"] * 2
    assert [s.name for s in calls] == ["chat offline-demo"] * 2
    for child in tools + calls:
        assert child.parent is not None
        assert child.parent.span_id == exchange.context.span_id
        assert child.context.trace_id == exchange.context.trace_id
        assert exchange.start_time <= child.start_time <= child.end_time <= exchange.end_time
    assert {s.attributes["gen_ai.tool.call.id"] for s in tools if s.attributes} != set()
    assert [c.attributes["gen_ai.response.finish_reasons"] for c in calls if c.attributes] == [
        ("tool_calls",),
        ("stop",),
    ]
    attributes = dict(exchange.attributes or {})
    assert attributes["gen_ai.operation.name"] == "invoke_agent"
    assert attributes["gen_ai.request.model"] == "offline-demo"
    assert str(attributes["gen_ai.conversation.id"]).startswith("conv_")
    per_call = [dict(c.attributes or {}) for c in calls]
    for key in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens"):
        assert all(int(c[key]) > 0 for c in per_call)
        assert attributes[key] == sum(int(c[key]) for c in per_call)
    assert "AAPL and MSFT?" in str(attributes["gen_ai.input.messages"])  # content: opted in
    assert all(CANARY not in _everything(s) for s in finished)


async def test_a_failed_exchange_has_an_error_status(
    emulator: EmulatorServer, spans: InMemorySpanExporter
) -> None:
    emulator.model = ScriptedModel([Fail("server_error", "the model broke")])
    with pytest.raises(ExchangeFailedError):
        await _ask(emulator, "hello")
    finished = spans.get_finished_spans()
    (exchange,) = [s for s in finished if s.name.startswith("invoke_agent")]
    (call,) = [s for s in finished if s.name.startswith("chat")]
    for span in (exchange, call):
        assert span.status.status_code is StatusCode.ERROR
        assert (span.attributes or {})["error.type"] == "server_error"
    assert all(CANARY not in _everything(s) for s in finished)


def test_an_unknown_exporter_name_is_one_line_and_no_provider() -> None:
    line = configure_tracing({"OTEL_TRACES_EXPORTER": "consol"})
    assert line is not None
    assert "OTEL_TRACES_EXPORTER: unknown exporter 'consol'" in line
    assert "console" in line
    assert configure_tracing({}) is None  # nothing asked: nothing done


def _terminal(
    env: dict[str, str], *python: str, typed: str = "What is the price of AAPL?\nexit\n"
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OPENAI_"))}
    clean |= {"PYTHONPATH": str(ROOT), "RECORD_EVENTS": "false", "QUOTE_SOURCE": "simulated"}
    return subprocess.run(
        [sys.executable, *python, str(ROOT / "terminal_chat.py")],
        input=typed,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean | env,
        timeout=120,
        check=False,
    )


def test_the_terminal_chat_prints_usage_and_console_spans() -> None:
    """One process for both (each costs seconds): SHOW_USAGE's line after the reply, `/usage`,
    and the spans of `OTEL_TRACES_EXPORTER=console`."""
    env = {"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "am-test", "SHOW_USAGE": "true"}
    typed = "What is the price of AAPL?\n/usage\nexit\n"
    done = _terminal(env, typed=typed)
    assert done.returncode == 0, done.stderr
    assert "AAPL" in done.stdout
    (line,) = [line for line in done.stdout.splitlines() if line.startswith("Usage: ")]
    assert re.fullmatch(
        r"Usage: [\d,]+ in / [\d,]+ out tokens, no price known · conversation: .*", line
    ), line
    assert "Usage of this conversation: " in done.stdout
    assert '"name": "execute_tool get_stock_price"' in done.stdout
    assert '"name": "invoke_agent asst_demo_stock"' in done.stdout
    assert '"service.name": "am-test"' in done.stdout


def test_without_the_extra_the_terminal_chat_runs_as_before() -> None:
    """`opentelemetry` made unimportable, as in an install without the extra: the chat works,
    and a user asking for traces is told, in one line, what to install."""
    hide = (
        "import runpy, sys; sys.modules['opentelemetry'] = None; "
        "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    done = _terminal({"OTEL_TRACES_EXPORTER": "console"}, "-c", hide)
    assert done.returncode == 0, done.stderr
    assert "AAPL" in done.stdout
    assert '"name":' not in done.stdout  # no spans
    hint = [line for line in done.stderr.splitlines() if "OpenTelemetry" in line]
    assert hint == [
        "OpenTelemetry traces were asked for, but its extra is missing: "
        "pip install -r requirements-otel.txt"
    ]
    assert "Traceback" not in done.stderr
