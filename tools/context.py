"""What a running tool may ask about the call it is serving.

`idempotency_key()` is stable for one tool call, across retries and across a crash and resume
(it derives from the call id the model gave): pass it to the system the tool changes (an
order, a payment, an email) and that system can refuse to act twice, e.g. as the
``Idempotency-Key`` header many payment and ordering APIs accept.
"""

from __future__ import annotations

import hashlib
from contextvars import ContextVar

from tools.types import ToolCall

__all__ = ["CURRENT_CALL", "current_call", "idempotency_key"]

CURRENT_CALL: ContextVar[ToolCall | None] = ContextVar("assistant_mediator_tool_call", default=None)


def current_call() -> ToolCall | None:
    """The call the running tool serves (None outside a tool run by a `ToolRegistry`)."""
    return CURRENT_CALL.get()


def idempotency_key() -> str:
    """A stable key for the call the running tool serves; `RuntimeError` outside a tool."""
    call = CURRENT_CALL.get()
    if call is None:
        raise RuntimeError("idempotency_key() is only available inside a tool call")
    return "am-" + hashlib.sha256(f"{call.name}\0{call.id}".encode()).hexdigest()[:32]
