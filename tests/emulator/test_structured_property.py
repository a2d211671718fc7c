"""Property: for any JSON schema in the strict-mode subset, the structured output validates.

Checked twice: the builder alone over many schemas, and a few through ``responses.create`` with
``text.format`` over real HTTP (what a client's structured-output mode reads).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai import OpenAI

from emulator.common.structured import instance, structured_text

jsonschema = pytest.importorskip("jsonschema")

NAMES = st.text("abcdefghij_", min_size=1, max_size=8)


def _number_schema(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    bounds = st.one_of(st.none(), st.integers(-1000, 1000))

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": kind}
        low, high = draw(bounds), draw(bounds)
        if low is not None and high is not None and low > high:
            low, high = high, low
        exclusive = draw(st.booleans())
        if low is not None:
            schema["exclusiveMinimum" if exclusive and high != low else "minimum"] = low
        if high is not None:
            schema["maximum"] = high
        if kind == "integer" and draw(st.booleans()) and low is None and high is None:
            schema["multipleOf"] = draw(st.integers(1, 50))
        if (
            "exclusiveMinimum" in schema
            and kind == "integer"
            and high is not None
            and high - low < 2
        ):
            schema["minimum"] = schema.pop("exclusiveMinimum")
        return schema

    return build()


def _string_schema() -> st.SearchStrategy[dict[str, Any]]:
    plain = st.fixed_dictionaries(
        {"type": st.just("string")},
        optional={"minLength": st.integers(0, 5), "maxLength": st.integers(5, 20)},
    )
    enum = st.lists(st.text(max_size=5), min_size=1, max_size=4, unique=True).map(
        lambda values: {"type": "string", "enum": values}
    )
    dated = st.sampled_from(["date-time", "date", "email", "uuid"]).map(
        lambda fmt: {"type": "string", "format": fmt}
    )
    return st.one_of(plain, enum, dated)


LEAVES = st.one_of(
    _string_schema(),
    _number_schema("number"),
    _number_schema("integer"),
    st.just({"type": "boolean"}),
    st.just({"type": "null"}),
    st.sampled_from([{"type": ["string", "null"]}, {"type": ["integer", "null"]}]),
)


def _extend(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    objects = st.dictionaries(NAMES, children, max_size=4).map(
        lambda properties: {
            "type": "object",
            "properties": properties,
            "required": list(properties),
            "additionalProperties": False,
        }
    )
    arrays = st.builds(
        lambda items, low: {"type": "array", "items": items, "minItems": low, "maxItems": low + 2},
        children,
        st.integers(0, 2),
    )
    any_of = st.lists(children, min_size=1, max_size=3).map(lambda options: {"anyOf": options})
    return st.one_of(objects, arrays, any_of)


SCHEMAS = st.recursive(LEAVES, _extend, max_leaves=12).map(
    lambda body: {
        "type": "object",
        "properties": {"value": body},
        "required": ["value"],
        "additionalProperties": False,
    }
)


def _not_json(text: str) -> bool:
    """Model text that is JSON is kept verbatim (a scripted test decides); prose is shaped."""
    try:
        json.loads(text)
    except ValueError:
        return True
    return False


def _with_defs(schema: dict[str, Any]) -> dict[str, Any]:
    """The same schema, its body moved into ``$defs`` behind a ``$ref`` (strict mode allows)."""
    return {
        **schema,
        "properties": {"value": {"$ref": "#/$defs/body"}},
        "$defs": {"body": schema["properties"]["value"]},
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schema=SCHEMAS, text=st.text(max_size=30).filter(_not_json), refs=st.booleans())
def test_built_instance_validates_against_any_strict_schema(
    schema: dict[str, Any], text: str, refs: bool
) -> None:
    if refs:
        schema = _with_defs(schema)
    value = instance(schema, text)
    jsonschema.validate(value, schema)
    jsonschema.validate(
        json.loads(structured_text(text, {"type": "json_schema", "schema": schema})), schema
    )


def test_recursive_schema_ends() -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "child": {"anyOf": [{"$ref": "#"}, {"type": "null"}]},
        },
        "required": ["name", "child"],
        "additionalProperties": False,
    }
    jsonschema.validate(instance(schema, "root"), schema)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(schema=SCHEMAS)
def test_responses_text_format_output_validates_over_http(
    client: OpenAI, schema: dict[str, Any]
) -> None:
    response = client.responses.create(
        model="m",
        input="hello",
        text={"format": {"type": "json_schema", "name": "out", "schema": schema, "strict": True}},
    )
    jsonschema.validate(json.loads(response.output_text), schema)
