"""From a Python signature to a pydantic model and the JSON schema an assistant is shown.

The signature is the single source of truth: the model that validates the assistant's
arguments and the schema that describes them are both derived from it, so they cannot drift
apart. Descriptions come from the Google-style docstring, which the author writes anyway.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

from tools.errors import ToolDefinitionError

_SECTION_HEADER = re.compile(r"^[A-Z][A-Za-z ]*:$")
_ARGS_HEADERS = frozenset({"args", "arguments", "parameters", "params"})
# "name: text" or "name (type): text"; the type in parentheses is ignored (the hint is used).
_ARG_ENTRY = re.compile(r"^\*{0,2}(\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


@dataclass(frozen=True, slots=True)
class ParsedDocstring:
    """The parts of a docstring a tool schema uses."""

    summary: str
    params: Mapping[str, str]


def parse_docstring(doc: str | None) -> ParsedDocstring:
    """Split a Google-style docstring into its first paragraph and its `Args:` entries.

    Only the first paragraph becomes the tool description: later paragraphs are for human
    readers (why the tool exists, caveats) and would only cost the assistant tokens.
    """
    if not doc:
        return ParsedDocstring("", {})
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    for line in lines:
        if not line.strip() or _SECTION_HEADER.match(line):
            break
        summary.append(line.strip())
    return ParsedDocstring(" ".join(summary), _parse_args_section(lines))


def _parse_args_section(lines: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    in_args = False
    current: str | None = None
    entry_indent: int | None = None
    for line in lines:
        text = line.strip()
        indent = len(line) - len(line.lstrip())
        if indent == 0 and text:
            # After cleandoc, section headers sit in column 0; anything there ends a section.
            in_args = bool(_SECTION_HEADER.match(text)) and text[:-1].lower() in _ARGS_HEADERS
            current, entry_indent = None, None
            continue
        if not in_args or not text:
            continue
        if entry_indent is None:
            entry_indent = indent
        entry = _ARG_ENTRY.match(text) if indent == entry_indent else None
        if entry is not None:
            current = entry.group(1)
            params[current] = entry.group(2).strip()
        elif current is not None:
            params[current] = f"{params[current]} {text}".strip()
    return params


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    field: str
    positional_only: bool


@dataclass(frozen=True, slots=True)
class ArgumentsSpec:
    """A tool's parameters as a pydantic model, and how to call the function with them.

    Fields are named ``arg_0``, ``arg_1``... and carry the parameter name as alias, so that
    parameters called ``json``, ``schema`` or ``_private`` cannot clash with `BaseModel`.
    """

    model: type[BaseModel]
    params: tuple[_Param, ...]

    @classmethod
    def from_function(
        cls, func: Callable[..., Any], tool_name: str, descriptions: Mapping[str, str]
    ) -> ArgumentsSpec:
        """Build the model from `func`'s signature; refuse what a JSON schema cannot express."""
        try:
            signature = inspect.signature(func)
            hints = typing.get_type_hints(func, include_extras=True)
        except (NameError, TypeError, ValueError) as exc:
            raise ToolDefinitionError(tool_name, f"its signature cannot be read ({exc})") from exc
        fields: dict[str, Any] = {}
        params: list[_Param] = []
        for index, parameter in enumerate(signature.parameters.values()):
            _check_parameter(parameter, hints, tool_name)
            field = f"arg_{index}"
            annotation = hints[parameter.name]
            options: dict[str, Any] = {"alias": parameter.name}
            if parameter.default is not inspect.Parameter.empty:
                options["default"] = parameter.default
            description = descriptions.get(parameter.name)
            if description and not _has_own_description(annotation):
                options["description"] = description
            fields[field] = (annotation, Field(**options))
            positional_only = parameter.kind is inspect.Parameter.POSITIONAL_ONLY
            params.append(_Param(parameter.name, field, positional_only))
        try:
            model = create_model(
                f"{tool_name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
            )
        except Exception as exc:  # pydantic reports unsupported types in several ways
            raise ToolDefinitionError(
                tool_name, f"its parameters cannot be modelled ({exc})"
            ) from exc
        return cls(model, tuple(params))

    def bind(self, raw: Mapping[str, Any]) -> tuple[list[Any], dict[str, Any]]:
        """Validate `raw` (raises `pydantic.ValidationError`) and split it into call arguments.

        Values are taken from the model instance, not dumped, so nested models reach the
        function as model instances.
        """
        validated = self.model.model_validate(raw)
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for param in self.params:
            value = getattr(validated, param.field)
            if param.positional_only:
                args.append(value)
            else:
                kwargs[param.name] = value
        return args, kwargs


def _check_parameter(
    parameter: inspect.Parameter, hints: Mapping[str, Any], tool_name: str
) -> None:
    if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
        raise ToolDefinitionError(
            tool_name, f"*args and **kwargs (here {parameter.name!r}) have no JSON schema"
        )
    if parameter.name not in hints:
        raise ToolDefinitionError(tool_name, f"parameter {parameter.name!r} has no type hint")


def _has_own_description(annotation: Any) -> bool:
    """True when ``Annotated[..., Field(description=...)]`` already describes the parameter."""
    if typing.get_origin(annotation) is not Annotated:
        return False
    return any(isinstance(meta, FieldInfo) and meta.description for meta in annotation.__metadata__)


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema in the shape OpenAI function tools accept.

    An object with `properties`, `required` (always present) and
    ``additionalProperties: false``; pydantic's generated titles are removed because they
    repeat the property names and cost tokens on every request.
    """
    schema = model.model_json_schema(by_alias=True)
    _drop_titles(schema)
    schema.setdefault("properties", {})
    schema.setdefault("required", [])
    schema["additionalProperties"] = False
    return schema


# Keys whose value is one sub-schema, and keys whose value holds several.
_SCHEMA_KEYS = ("items", "additionalProperties", "not", "contains")
_SCHEMA_LIST_KEYS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_MAP_KEYS = ("properties", "$defs", "patternProperties")


def _drop_titles(schema: dict[str, Any]) -> None:
    """Remove ``title`` from every sub-schema, walking the schema's structure.

    Walking by structure (not by key name everywhere) keeps a *property* called ``title``.
    """
    if isinstance(schema.get("title"), str):
        del schema["title"]
    for key in _SCHEMA_KEYS:
        if isinstance(schema.get(key), dict):
            _drop_titles(schema[key])
    for key in _SCHEMA_LIST_KEYS:
        for sub in schema.get(key) or ():
            if isinstance(sub, dict):
                _drop_titles(sub)
    for key in _SCHEMA_MAP_KEYS:
        for sub in (schema.get(key) or {}).values():
            if isinstance(sub, dict):
                _drop_titles(sub)
