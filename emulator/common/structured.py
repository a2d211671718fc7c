"""Structured outputs: a JSON value valid against a strict-mode JSON schema.

The real API constrains a model's output to the schema of ``text.format`` (Responses),
``response_format`` (Assistants) or a function's ``parameters``; a scripted model only has text.
`instance` builds a value that satisfies the strict-mode subset: ``object`` (``properties``,
``required``, ``additionalProperties: false``), ``string`` (``enum``, ``const``,
``minLength``/``maxLength``, ``pattern`` by trying candidates, ``format``), ``number`` and
``integer`` (bounds, exclusive bounds, ``multipleOf``), ``boolean``, ``null``, ``array``
(``items``, ``minItems``/``maxItems``), type lists, ``anyOf``, and ``$ref`` into ``$defs`` /
``definitions`` (recursion ends at the first optional way out: null, an empty array, a later
``anyOf`` branch). The model's text goes into the first free-text string, so a demo reply is still
readable; every other string is the property's name.

`structured_text` is what a run or response writes: the model's text when it already is JSON (a
test scripting exact output decides), else a value built from the schema.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["format_schema", "instance", "structured_text"]

_MAX_DEPTH = 32
_FORMATS = {
    "date-time": "2026-01-01T00:00:00Z",
    "date": "2026-01-01",
    "time": "00:00:00Z",
    "duration": "P1D",
    "email": "user@example.com",
    "hostname": "example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


class _Builder:
    def __init__(self, root: Mapping[str, Any], text: str) -> None:
        self._root = root
        self._text: str | None = text  # used once, by the first free-text string

    def value(self, schema: Any, name: str, depth: int) -> Any:
        if not isinstance(schema, Mapping):
            return None
        if "$ref" in schema:
            return self.value(self._resolve(schema["$ref"]), name, depth + 1)
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        if isinstance(schema.get("anyOf"), list) and schema["anyOf"]:
            options = schema["anyOf"]
            choice = options[-1] if depth > _MAX_DEPTH else options[0]
            return self.value(choice, name, depth + 1)
        kind = schema.get("type")
        if isinstance(kind, list):
            kinds = [k for k in kind if isinstance(k, str)]
            if depth > _MAX_DEPTH and "null" in kinds:
                return None
            kind = next((k for k in kinds if k != "null"), "null")
        return self._typed(kind, schema, name, depth)

    def _typed(self, kind: Any, schema: Mapping[str, Any], name: str, depth: int) -> Any:
        if kind == "object" or (kind is None and "properties" in schema):
            properties = schema.get("properties") or {}
            return {key: self.value(sub, key, depth + 1) for key, sub in properties.items()}
        if kind == "array":
            low = int(schema.get("minItems", 0))
            high = schema.get("maxItems")
            count = low if depth > _MAX_DEPTH else max(low, 1)
            if high is not None:
                count = min(count, int(high))
            return [self.value(schema.get("items", {}), name, depth + 1) for _ in range(count)]
        if kind == "string":
            return self._string(schema, name)
        if kind == "integer":
            return int(_number(schema, integer=True))
        if kind == "number":
            return _number(schema, integer=False)
        if kind == "boolean":
            return True
        return None

    def _string(self, schema: Mapping[str, Any], name: str) -> str:
        if isinstance(schema.get("format"), str) and schema["format"] in _FORMATS:
            return _FORMATS[schema["format"]]
        candidates = [name or "value", "value", "a", "0", "A", "example"]
        if self._text is not None and "pattern" not in schema:
            candidates.insert(0, self._text)
        low = int(schema.get("minLength", 0))
        high = schema.get("maxLength")
        for candidate in candidates:
            fitted = candidate.ljust(low, "x")
            if high is not None:
                fitted = fitted[: int(high)]
            if _fits_pattern(fitted, schema.get("pattern")):
                if candidate == self._text:
                    self._text = None
                return fitted
        return "x" * low

    def _resolve(self, ref: Any) -> Any:
        if not isinstance(ref, str) or not ref.startswith("#"):
            return {}
        node: Any = self._root
        for part in [p for p in ref[1:].split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")
            node = node.get(part, {}) if isinstance(node, Mapping) else {}
        return node


def _fits_pattern(text: str, pattern: Any) -> bool:
    if not isinstance(pattern, str):
        return True
    try:
        return re.search(pattern, text) is not None
    except re.error:
        return True


def _number(schema: Mapping[str, Any], *, integer: bool) -> float:
    """0 when allowed, else the allowed value nearest to 0."""
    low, high = _bounds(schema, integer=integer)
    multiple = schema.get("multipleOf")
    step = float(multiple) if isinstance(multiple, int | float) and multiple > 0 else None
    if low <= 0.0 <= high:
        return 0.0
    if low > 0:
        value = math.ceil(low / step) * step if step else low
        return float(math.ceil(value)) if integer else value
    value = math.floor(high / step) * step if step else high
    return float(math.floor(value)) if integer else value


def _bounds(schema: Mapping[str, Any], *, integer: bool) -> tuple[float, float]:
    low, high = -math.inf, math.inf
    if isinstance(schema.get("minimum"), int | float):
        low = float(schema["minimum"])
    if isinstance(schema.get("maximum"), int | float):
        high = float(schema["maximum"])
    exclusive_low = schema.get("exclusiveMinimum")
    exclusive_high = schema.get("exclusiveMaximum")
    if isinstance(exclusive_low, int | float):
        bound = float(math.floor(exclusive_low) + 1) if integer else None
        if bound is None:
            top = high if math.isfinite(high) else exclusive_low + 2
            top = min(top, exclusive_high) if isinstance(exclusive_high, int | float) else top
            bound = (exclusive_low + top) / 2
        low = max(low, bound)
    if isinstance(exclusive_high, int | float):
        bound = float(math.ceil(exclusive_high) - 1) if integer else None
        if bound is None:
            bottom = low if math.isfinite(low) else exclusive_high - 2
            bound = (bottom + exclusive_high) / 2 if bottom < exclusive_high else exclusive_high
        high = min(high, bound)
    if integer:
        low = float(math.ceil(low)) if math.isfinite(low) else low
        high = float(math.floor(high)) if math.isfinite(high) else high
    return low, high


def instance(schema: Mapping[str, Any], text: str = "") -> Any:
    """A JSON value valid against `schema` (strict-mode subset), with `text` in its first free
    string."""
    return _Builder(schema, text).value(schema, "", 0)


def format_schema(fmt: Any) -> Mapping[str, Any] | None:
    """The schema of a Responses ``text.format`` or an Assistants ``response_format``:
    ``{}`` for ``json_object``, None for plain text."""
    if not isinstance(fmt, Mapping):
        return None
    if fmt.get("type") == "json_object":
        return {}
    if fmt.get("type") != "json_schema":
        return None
    nested = fmt.get("json_schema")  # Assistants: {"type": "json_schema", "json_schema": {...}}
    holder = nested if isinstance(nested, Mapping) else fmt
    schema = holder.get("schema")
    return schema if isinstance(schema, Mapping) else {"type": "object", "properties": {}}


def structured_text(text: str, fmt: Any) -> str:
    """What a model's reply becomes under the output format `fmt`."""
    schema = format_schema(fmt)
    if schema is None:
        return text
    try:
        json.loads(text)
    except ValueError:
        pass
    else:
        return text
    if not schema:  # json_object: any JSON object
        return json.dumps({"text": text})
    return json.dumps(instance(schema, text))
