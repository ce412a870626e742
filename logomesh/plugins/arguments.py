"""A plugin tool's JSON Schema (``inputSchema``) as a pydantic argument model.

The engine validates every command's arguments with a pydantic model before anything runs,
so a plugin command's errors read like a built-in's ("`path`: input should be a valid
string"). Simple schemas (objects of strings, numbers, booleans, arrays, nested objects,
enums, defaults) map field by field; anything richer (``oneOf``, ``$ref``) becomes a field
of any type and the plugin validates it itself. Unknown arguments are refused unless the
schema says ``additionalProperties: true``: deny by default.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

_SIMPLE: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "null": type(None),
}


class PluginArguments(BaseModel):
    """Until a plugin has started, its commands take any arguments; the plugin checks them."""

    model_config = ConfigDict(extra="allow")


def model_for(command: str, schema: dict[str, Any]) -> type[BaseModel]:
    properties = schema.get("properties")
    if schema.get("type", "object") != "object" or not isinstance(properties, dict):
        return PluginArguments
    required = set(schema.get("required") or ())
    fields: dict[str, Any] = {}
    for name, spec in properties.items():
        if not isinstance(spec, dict) or not name.isidentifier():
            return PluginArguments  # names pydantic cannot hold: let the plugin validate
        annotation = _annotation(spec)
        description = spec.get("description")
        if name in required:
            fields[name] = (annotation, Field(..., description=description))
        else:
            default = spec.get("default")
            fields[name] = (annotation | None, Field(default, description=description))
    extra: Literal["allow", "forbid"] = (
        "allow" if schema.get("additionalProperties") is True else "forbid"
    )
    model_name = "Args_" + "".join(c if c.isalnum() else "_" for c in command)
    return create_model(model_name, __config__=ConfigDict(extra=extra), **fields)


def _annotation(spec: dict[str, Any]) -> Any:
    if "enum" in spec and all(isinstance(v, str | int | bool) for v in spec["enum"]):
        return Literal[tuple(spec["enum"])]
    kind = spec.get("type")
    if isinstance(kind, list):  # ["string", "null"]
        options = [_SIMPLE.get(k, Any) for k in kind]
        annotation = options[0]
        for option in options[1:]:
            annotation = annotation | option
        return annotation
    if kind == "array":
        items = spec.get("items")
        item: Any = _annotation(items) if isinstance(items, dict) else Any
        return list[item]
    if kind == "object":
        return dict[str, Any]
    return _SIMPLE.get(kind, Any) if isinstance(kind, str) else Any
