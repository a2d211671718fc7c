"""What both protocols' wire objects are made of: JSON dicts, ids, timestamps, token counts.

Objects are kept as plain JSON dicts (`JsonObj`) from creation to storage to the wire, so what
is stored is exactly what is served and saved.
"""

from __future__ import annotations

import secrets
import time
from typing import Any, TypeAlias

__all__ = ["JsonObj", "chunks", "deleted_object", "estimate_tokens", "new_id", "now"]

JsonObj: TypeAlias = dict[str, Any]


def now() -> int:
    """Wire timestamps are whole Unix seconds."""
    return int(time.time())


def new_id(prefix: str) -> str:
    """A fresh id shaped like the real ones: ``run_`` + 24 random characters."""
    return f"{prefix}_{secrets.token_hex(12)}"


def deleted_object(object_id: str, kind: str) -> JsonObj:
    """The answer to a DELETE: ``{"id", "object": "<kind>.deleted", "deleted": true}``."""
    return {"id": object_id, "object": f"{kind}.deleted", "deleted": True}


def estimate_tokens(text: str) -> int:
    """A rough, deterministic token count: about four characters a token."""
    return max(1, (len(text) + 3) // 4) if text else 0


def chunks(text: str, count: int) -> list[str]:
    """Split `text` into at most `count` consecutive non-empty pieces (the streamed deltas)."""
    if not text:
        return []
    size = max(1, -(-len(text) // count))
    return [text[i : i + size] for i in range(0, len(text), size)]
