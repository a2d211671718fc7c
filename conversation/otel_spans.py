"""The event stream as OpenTelemetry spans, following the GenAI semantic conventions.

One more event listener (DESIGN.md: observers, not scattered calls): the mediator and the
proxies know nothing of it. Each exchange becomes

    invoke_agent asst_demo_stock            the exchange: the user's message to the reply
    ├── chat gpt-4o-mini                    one model call (a response; an Assistants run
    ├── execute_tool get_stock_price        segment), from the request to what it answered
    ├── execute_tool get_stock_price
    └── chat gpt-4o-mini

with the times the events carry (a tool span ends when its `ToolExecuted` was published and
began `duration_s` before). Attributes: ``gen_ai.operation.name``, ``gen_ai.provider.name``,
``gen_ai.agent.id``, ``gen_ai.conversation.id``, ``gen_ai.request.model``,
``gen_ai.usage.input_tokens`` / ``output_tokens`` / ``cache_read.input_tokens`` /
``reasoning.output_tokens``, ``gen_ai.response.finish_reasons``, ``gen_ai.tool.*``,
``error.type`` with an error status. Events carry no key, so no span can: nothing else goes
in. Message and tool content (``gen_ai.input.messages``, ``gen_ai.output.messages``,
``gen_ai.tool.call.arguments`` / ``result``) only with `capture_content`.

This module imports OpenTelemetry: import it only through `conversation.tracing`, which
checks that the extra is installed.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Final

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer

from mediator.events import (
    ActionRequired,
    ConversationBound,
    ExchangeCancelled,
    ExchangeFailed,
    MediatorEvent,
    MessageRetrieved,
    MessageSent,
    RunStarted,
    StateChanged,
    ToolExecuted,
    UsageReported,
)
from mediator.script import State
from mediator.usage import Usage

__all__ = ["SpanListener"]

logger = logging.getLogger(__name__)

_MAX_OPEN: Final = 1_000  # exchanges followed at once; the oldest beyond are ended as lost
_PROVIDER: Final = "openai"  # both protocols are OpenAI's, whoever serves them


def _ns(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000_000)


@dataclass
class _Exchange:
    span: Span
    model: str | None = None
    usage: Usage = field(default_factory=Usage)
    call: Span | None = None  # the model call in flight
    call_model: str | None = None


@dataclass(frozen=True)
class _Conversation:
    assistant_id: str
    backend: str


class SpanListener:
    """Turns every conversation's events into spans on `tracer` (thread-safe)."""

    _handlers: ClassVar[dict[type[MediatorEvent], _Handler]]

    def __init__(self, tracer: Tracer | None = None, *, capture_content: bool = False) -> None:
        self._tracer = tracer or trace.get_tracer("assistant-mediator")
        self._capture = capture_content
        self._lock = threading.Lock()
        self._open: OrderedDict[tuple[str | None, str], _Exchange] = OrderedDict()
        self._sessions: OrderedDict[str, _Conversation] = OrderedDict()
        self._models: OrderedDict[str, str] = OrderedDict()  # session -> model last seen

    def __call__(self, event: MediatorEvent) -> None:
        if event.exchange_id is None and not isinstance(event, ConversationBound):
            return
        with self._lock:
            self._take(event)

    # -- dispatch ------------------------------------------------------------------------------

    def _take(self, event: MediatorEvent) -> None:
        if isinstance(event, ConversationBound):
            self._bound(event)
            return
        exchange = self._exchange(event)
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(self, event, exchange)
        if isinstance(event, StateChanged) and event.state in (State.READY, State.TOOLS_EXECUTED):
            self._start_call(event, exchange)  # a request goes out right after these

    def _sent(self, event: MessageSent, exchange: _Exchange) -> None:
        if self._capture:
            messages = [{"role": "user", "parts": [{"type": "text", "content": event.text}]}]
            exchange.span.set_attribute("gen_ai.input.messages", json.dumps(messages))

    def _started(self, event: RunStarted, exchange: _Exchange) -> None:
        if event.model:
            self._learn_model(event, exchange, event.model)

    def _requested(self, event: ActionRequired, exchange: _Exchange) -> None:
        self._end_call(exchange, event, finish="tool_calls")

    def _retrieved(self, event: MessageRetrieved, exchange: _Exchange) -> None:
        self._end_call(exchange, event, finish="stop")
        if self._capture:
            parts = [{"type": "text", "content": event.text}]
            output = [{"role": "assistant", "parts": parts, "finish_reason": "stop"}]
            exchange.span.set_attribute("gen_ai.output.messages", json.dumps(output))
        self._end_exchange(event, exchange, finish="stop")

    def _failed(self, event: ExchangeFailed, exchange: _Exchange) -> None:
        error = event.code or "ExchangeFailed"
        self._end_call(exchange, event, error=error, message=event.error)
        self._end_exchange(event, exchange, error=error, message=event.error)

    def _cancelled(self, event: ExchangeCancelled, exchange: _Exchange) -> None:
        self._end_call(exchange, event, finish="cancelled")
        self._end_exchange(event, exchange, finish="cancelled")

    # -- the exchange span ---------------------------------------------------------------------

    def _exchange(self, event: MediatorEvent) -> _Exchange:
        key = (event.session_id, event.exchange_id or "")
        exchange = self._open.get(key)
        if exchange is not None:
            return exchange
        bound = self._sessions.get(event.session_id or "")
        name = f"invoke_agent {bound.assistant_id}" if bound else "invoke_agent"
        span = self._tracer.start_span(
            name, kind=SpanKind.CLIENT, start_time=_ns(event.at), attributes=self._agent(bound)
        )
        span.set_attribute("gen_ai.operation.name", "invoke_agent")
        exchange = self._open[key] = _Exchange(span, model=self._models.get(event.session_id or ""))
        while len(self._open) > _MAX_OPEN:
            _, lost = self._open.popitem(last=False)
            lost.span.set_status(Status(StatusCode.ERROR, "the exchange was never seen to end"))
            lost.span.end()
        return exchange

    @staticmethod
    def _agent(bound: _Conversation | None) -> dict[str, Any]:
        attributes: dict[str, Any] = {"gen_ai.provider.name": _PROVIDER}
        if bound is not None:
            attributes["gen_ai.agent.id"] = bound.assistant_id
            attributes["assistant_mediator.backend"] = bound.backend
        return attributes

    def _bound(self, event: ConversationBound) -> None:
        bound = _Conversation(event.assistant_id, event.backend)
        session = event.session_id or ""
        self._sessions[session] = bound
        _trim(self._sessions)
        for (owner, _), exchange in self._open.items():  # the first exchange began before
            if owner == event.session_id:
                exchange.span.update_name(f"invoke_agent {bound.assistant_id}")
                exchange.span.set_attributes(self._agent(bound))

    def _end_exchange(
        self,
        event: MediatorEvent,
        exchange: _Exchange,
        *,
        finish: str | None = None,
        error: str | None = None,
        message: str | None = None,
    ) -> None:
        span = exchange.span
        if event.conversation_id:
            span.set_attribute("gen_ai.conversation.id", event.conversation_id)
        if exchange.model:
            span.set_attribute("gen_ai.request.model", exchange.model)
        _set_usage(span, exchange.usage)
        _finish(span, finish, error, message)
        span.end(end_time=_ns(event.at))
        self._open.pop((event.session_id, event.exchange_id or ""), None)

    def _learn_model(self, event: MediatorEvent, exchange: _Exchange, model: str) -> None:
        exchange.model = model
        self._models[event.session_id or ""] = model
        _trim(self._models)
        if exchange.call is not None and exchange.call_model is None:
            exchange.call_model = model
            exchange.call.update_name(f"chat {model}")
            exchange.call.set_attribute("gen_ai.request.model", model)

    # -- model calls and tools -----------------------------------------------------------------

    def _start_call(self, event: MediatorEvent, exchange: _Exchange) -> None:
        if exchange.call is not None:
            return
        context = trace.set_span_in_context(exchange.span)
        model = exchange.model
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": _PROVIDER,
        }
        if model:
            attributes["gen_ai.request.model"] = model
        exchange.call = self._tracer.start_span(
            f"chat {model}" if model else "chat",
            context=context,
            kind=SpanKind.CLIENT,
            start_time=_ns(event.at),
            attributes=attributes,
        )
        exchange.call_model = model

    def _usage(self, event: UsageReported, exchange: _Exchange) -> None:
        exchange.usage = exchange.usage + event.usage
        if event.model:
            self._learn_model(event, exchange, event.model)
        call = exchange.call
        if call is not None and not event.whole_run:  # per response: this call's own usage
            _set_usage(call, event.usage)
            if event.model:
                call.set_attribute("gen_ai.response.model", event.model)

    def _end_call(
        self,
        exchange: _Exchange,
        event: MediatorEvent,
        *,
        finish: str | None = None,
        error: str | None = None,
        message: str | None = None,
    ) -> None:
        call, exchange.call = exchange.call, None
        if call is None:
            return
        _finish(call, finish, error, message)
        call.end(end_time=_ns(event.at))

    def _tool(self, event: ToolExecuted, exchange: _Exchange) -> None:
        result = event.result
        end = _ns(event.at)
        start = end - int(max(result.duration_s, 0.0) * 1_000_000_000)
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": event.call.name,
            "gen_ai.tool.call.id": event.call.id,
            "gen_ai.tool.type": "function",
        }
        if self._capture:
            attributes["gen_ai.tool.call.arguments"] = event.call.arguments
            attributes["gen_ai.tool.call.result"] = result.output
        span = self._tracer.start_span(
            f"execute_tool {event.call.name}",
            context=trace.set_span_in_context(exchange.span),
            kind=SpanKind.INTERNAL,
            start_time=start,
            attributes=attributes,
        )
        if result.is_error:
            _finish(span, None, result.error_type or "tool_error", None)
        span.end(end_time=end)


def _set_usage(span: Span, usage: Usage) -> None:
    span.set_attribute("gen_ai.usage.input_tokens", usage.input_tokens)
    span.set_attribute("gen_ai.usage.output_tokens", usage.output_tokens)
    span.set_attribute("gen_ai.usage.cache_read.input_tokens", usage.cached_input_tokens)
    span.set_attribute("gen_ai.usage.reasoning.output_tokens", usage.reasoning_tokens)


def _finish(span: Span, finish: str | None, error: str | None, message: str | None) -> None:
    if finish is not None:
        span.set_attribute("gen_ai.response.finish_reasons", [finish])
    if error is not None:
        span.set_attribute("error.type", error)
        span.set_status(Status(StatusCode.ERROR, message))


def _trim(mapping: OrderedDict[str, Any]) -> None:
    while len(mapping) > _MAX_OPEN:
        mapping.popitem(last=False)


_Handler = Callable[[SpanListener, Any, _Exchange], None]

SpanListener._handlers = {
    MessageSent: SpanListener._sent,
    RunStarted: SpanListener._started,
    UsageReported: SpanListener._usage,
    ActionRequired: SpanListener._requested,
    ToolExecuted: SpanListener._tool,
    MessageRetrieved: SpanListener._retrieved,
    ExchangeFailed: SpanListener._failed,
    ExchangeCancelled: SpanListener._cancelled,
}
