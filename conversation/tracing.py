"""OpenTelemetry, when its extra is installed (``pip install -r requirements-otel.txt``).

Two steps, kept apart because only the second is a library's business:

- `configure_tracing()` is for the apps, which own the process: when the standard variables
  ask for traces (``OTEL_TRACES_EXPORTER``, ``OTEL_EXPORTER_OTLP_ENDPOINT``,
  ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``; ``OTEL_SDK_DISABLED=true`` turns it all off), it
  installs an SDK tracer provider with those exporters (``console`` prints spans, ``otlp``
  sends them to a collector; ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES`` and
  ``OTEL_TRACES_SAMPLER`` apply as the SDK reads them). A program that set up OpenTelemetry
  itself needs none of this.
- `listen()` (called by every conversation's wiring) subscribes, once per process, the
  listener that turns events into spans (`conversation.otel_spans`) on the global tracer
  provider, once one is set (by `configure_tracing` or by the program): spans go wherever
  the program's OpenTelemetry sends them, and nothing listens while they would go nowhere.

Without the extra, both do nothing and the toolkit runs exactly as before (a program asking
for traces by the variables is told, once, what to install). Message and tool content goes
into spans only with ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true``, the
variable OpenTelemetry's own GenAI instrumentations read.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import threading
from collections.abc import Mapping
from typing import Any, Final

from mediator.bus import Subscription, subscribe

__all__ = ["configure_tracing", "listen", "tracing_available"]

CAPTURE_CONTENT: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
_ASKING: Final = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
)
INSTALL_HINT: Final = "pip install -r requirements-otel.txt"

_lock = threading.Lock()
_subscription: Subscription | None = None


@functools.cache
def tracing_available() -> bool:
    """True when the OpenTelemetry extra (API and SDK) is installed (looked up once: each
    wiring asks, and the lookup costs more than wiring a conversation otherwise does)."""
    try:
        return (
            importlib.util.find_spec("opentelemetry.trace") is not None
            and importlib.util.find_spec("opentelemetry.sdk.trace") is not None
        )
    except (ImportError, ValueError):  # a parent package missing or hidden
        return False


def listen(environ: Mapping[str, str] | None = None) -> bool:
    """Turn events into spans from now on (once per process); False without the extra or
    while no tracer provider is set."""
    global _subscription
    if _subscription is not None:
        return True
    if not tracing_available():
        return False
    from opentelemetry import trace

    from conversation.otel_spans import SpanListener

    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return False  # nobody set one up: spans would go nowhere

    env = os.environ if environ is None else environ
    capture = env.get(CAPTURE_CONTENT, "").strip().lower() in ("1", "true", "yes")
    with _lock:
        if _subscription is None:
            _subscription = subscribe(SpanListener(capture_content=capture))
    return True


def configure_tracing(environ: Mapping[str, str] | None = None) -> str | None:
    """Install a tracer provider as the OTEL_* variables ask; None, or one line for people
    (the extra is missing, or an exporter name is unknown)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if not any(env.get(name, "").strip() for name in _ASKING):
        return None
    if not tracing_available():
        return f"OpenTelemetry traces were asked for, but its extra is missing: {INSTALL_HINT}"
    return _install_provider(env)


def _install_provider(env: Mapping[str, str]) -> str | None:
    from importlib.metadata import entry_points

    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    names = [n.strip() for n in env.get("OTEL_TRACES_EXPORTER", "otlp").split(",") if n.strip()]
    names = [n for n in names if n != "none"]
    known = {e.name: e for e in entry_points(group="opentelemetry_traces_exporter")}
    unknown = [n for n in names if n not in known]
    if unknown:
        return (
            f"OTEL_TRACES_EXPORTER: unknown exporter {', '.join(map(repr, unknown))} "
            f"(installed: {', '.join(sorted(known))}); no traces"
        )
    provider = TracerProvider(resource=Resource.create())
    for name in names:
        exporter: Any = known[name].load()()
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return None
