"""Schema generation: what the assistant is told about a tool, derived from its signature."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from tools import FunctionTool, ToolDefinitionError, function_tool
from tools.schema import parse_docstring


class Address(BaseModel):
    street: str
    city: str = "Springfield"


class Order(BaseModel):
    title: str  # a *property* named "title" must survive the title clean-up
    quantity: int
    ship_to: Address | None = None


@function_tool
def place_order(
    order: Order,
    priority: Literal["low", "normal", "high"] = "normal",
    tags: list[str] | None = None,
    note: str | None = None,
    express: bool = False,
    weight_kg: float = 1.5,
) -> dict[str, Any]:
    """Place an order for delivery.

    This paragraph explains the design to human readers and is not sent to the model.

    Args:
        order (Order): The order to place.
        priority: How urgent the order is. Longer descriptions may
            continue on the next line.
        tags: Labels to attach.
        note: A free-text note.
        express: Use express shipping.
        weight_kg: Parcel weight in kilograms.

    Returns:
        A receipt.
    """
    return {"order": order.title, "priority": priority}


def _all_keys(node: Any, path: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((path, key))
            found.extend(_all_keys(value, f"{path}/{key}"))
    elif isinstance(node, list):
        for item in node:
            found.extend(_all_keys(item, path))
    return found


def test_top_level_schema_is_a_closed_object_with_required_parameters() -> None:
    schema = place_order.parameters
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["order"]
    assert list(schema["properties"]) == [
        "order",
        "priority",
        "tags",
        "note",
        "express",
        "weight_kg",
    ]


def test_parameter_types_and_defaults_become_json_schema() -> None:
    props = place_order.parameters["properties"]
    assert props["priority"]["enum"] == ["low", "normal", "high"]
    assert props["priority"]["default"] == "normal"
    assert props["tags"]["anyOf"] == [
        {"items": {"type": "string"}, "type": "array"},
        {"type": "null"},
    ]
    assert props["tags"]["default"] is None
    assert props["note"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    assert props["express"] == {
        "default": False,
        "description": "Use express shipping.",
        "type": "boolean",
    }
    assert props["weight_kg"]["type"] == "number"
    assert props["weight_kg"]["default"] == 1.5


def test_nested_models_are_described_in_defs() -> None:
    schema = place_order.parameters
    assert schema["properties"]["order"]["$ref"] == "#/$defs/Order"
    order = schema["$defs"]["Order"]
    assert order["required"] == ["title", "quantity"]
    assert order["properties"]["quantity"] == {"type": "integer"}
    assert schema["$defs"]["Address"]["properties"]["city"]["default"] == "Springfield"


def test_generated_titles_are_removed_but_a_property_named_title_is_kept() -> None:
    schema = place_order.parameters
    assert [path for path, key in _all_keys(schema) if key == "title"] == [
        "/$defs/Order/properties"
    ]


def test_descriptions_come_from_the_docstring() -> None:
    assert place_order.description == "Place an order for delivery."
    props = place_order.parameters["properties"]
    assert props["order"]["description"] == "The order to place."
    assert props["priority"]["description"] == (
        "How urgent the order is. Longer descriptions may continue on the next line."
    )
    assert props["weight_kg"]["description"] == "Parcel weight in kilograms."


def test_assistants_schema_nests_the_function() -> None:
    assert place_order.assistants_schema() == {
        "type": "function",
        "function": {
            "name": "place_order",
            "description": "Place an order for delivery.",
            "parameters": place_order.parameters,
            "strict": False,
        },
    }


def test_responses_schema_is_flat() -> None:
    assert place_order.responses_schema() == {
        "type": "function",
        "name": "place_order",
        "description": "Place an order for delivery.",
        "parameters": place_order.parameters,
        "strict": False,
    }


def test_parameters_are_a_copy_callers_cannot_corrupt() -> None:
    place_order.parameters["properties"].clear()
    assert "order" in place_order.parameters["properties"]


def test_a_tool_without_parameters_has_an_empty_closed_object() -> None:
    @function_tool
    def ping() -> str:
        return "pong"

    assert ping.parameters == {
        "type": "object",
        "properties": {},
        "required": [],
        "additionalProperties": False,
    }
    assert ping.description == ""


def test_options_override_name_description_and_set_timeout() -> None:
    @function_tool(name="renamed", description="Told to the model.", timeout=2.5)
    def original(x: int) -> int:
        """Docstring summary."""
        return x

    assert (original.name, original.description, original.timeout) == (
        "renamed",
        "Told to the model.",
        2.5,
    )


def test_annotated_field_description_wins_over_the_docstring() -> None:
    @function_tool
    def scale(factor: Annotated[float, Field(gt=0, description="From Field.")]) -> float:
        """Scale.

        Args:
            factor: From the docstring.
        """
        return factor

    assert scale.parameters["properties"]["factor"] == {
        "description": "From Field.",
        "exclusiveMinimum": 0,
        "type": "number",
    }


def test_parameter_names_that_clash_with_basemodel_attributes_are_kept() -> None:
    @function_tool
    def store(json: str, schema: int = 1, model_config: bool = False) -> str:
        return json

    assert list(store.parameters["properties"]) == ["json", "schema", "model_config"]
    assert store.parameters["required"] == ["json"]


def test_tool_remains_callable_like_the_function() -> None:
    order = Order(title="Book", quantity=1)
    assert place_order(order, priority="high") == {"order": "Book", "priority": "high"}
    assert place_order.__name__ == "place_order"
    assert place_order.__doc__ is not None
    assert "Place an order" in place_order.__doc__
    assert isinstance(place_order, FunctionTool)


async def test_async_tool_remains_awaitable_like_the_function() -> None:
    @function_tool()
    async def double(x: int) -> int:
        return 2 * x

    assert double.is_async
    assert await double(21) == 42


def _varargs(*values: int) -> None:
    return None


def _varkw(**options: int) -> None:
    return None


def _unhinted(x) -> None:  # type: ignore[no-untyped-def]
    return None


def _fine(x: int) -> int:
    return x


@pytest.mark.parametrize(
    ("func", "name", "problem"),
    [
        (_varargs, None, "[*]args and [*][*]kwargs"),
        (_varkw, None, "[*]args and [*][*]kwargs"),
        (_unhinted, None, "parameter 'x' has no type hint"),
        (_fine, "has space", "tool name must be"),
        (_fine, "x" * 65, "tool name must be"),
        (lambda x: x, None, "tool name must be"),
    ],
)
def test_undescribable_functions_are_refused_at_definition(
    func: Any, name: str | None, problem: str
) -> None:
    with pytest.raises(ToolDefinitionError, match=problem):
        function_tool(name=name)(func)


def test_non_positive_timeout_is_refused_at_definition() -> None:
    def f() -> None:
        return None

    with pytest.raises(ToolDefinitionError, match="timeout must be positive"):
        function_tool(timeout=0)(f)


def test_hints_naming_local_classes_fail_clearly_at_definition() -> None:
    class Local(BaseModel):
        value: int

    def uses_local(item: Local) -> int:
        return item.value

    with pytest.raises(ToolDefinitionError, match="uses_local.*cannot be read"):
        function_tool(uses_local)


def test_docstring_parser_reads_summary_and_args_only() -> None:
    parsed = parse_docstring(
        """Summary line one
        continues here.

        Details.

        Args:
            a (int): First.
            b: Second,
                wrapped.
            *rest: Ignored star.

        Raises:
            c: Not an argument.
        """
    )
    assert parsed.summary == "Summary line one continues here."
    assert dict(parsed.params) == {"a": "First.", "b": "Second, wrapped.", "rest": "Ignored star."}


def test_docstring_parser_handles_missing_docstring_and_missing_args() -> None:
    assert parse_docstring(None).summary == ""
    assert dict(parse_docstring("Only a summary.").params) == {}
