"""A plugin tool's JSON Schema becomes the command's argument model (plugins/arguments.py).

The end-to-end case runs a real plugin whose tool declares enums, arrays, nullable types,
nested objects and extra properties: the engine refuses bad input before the plugin sees it,
naming the field. The rest checks how each schema shape maps, straight on ``model_for``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from logomesh.engine import Engine
from logomesh.plugins.arguments import PluginArguments, model_for
from tests.plugins.conftest import plugin_script, run_command

RICH = {
    "type": "object",
    "properties": {
        "level": {"enum": ["low", "high"], "description": "How loud."},
        "tags": {"type": "array", "items": {"type": "string"}},
        "limit": {"type": ["integer", "null"], "default": 5},
        "options": {"type": "object"},
        "anything": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    },
    "required": ["level"],
    "additionalProperties": True,
}
TOOL = f"""
    @plugin.tool("rich.run", schema={RICH!r})
    def run(args, ctx):
        return {{"got": args}}
"""


def test_bad_arguments_to_a_plugin_command_are_refused_by_field_before_it_runs(
    add_plugin: Callable[..., Path], plugin_engine: Callable[..., Engine]
) -> None:
    add_plugin("rich", plugin_script("rich", TOOL), commands=("rich.run",))
    engine = plugin_engine()
    ok = run_command(engine, "rich.run", level="high", tags=["a", "b"], colour="red")
    assert ok.ok, ok.message
    got = ok.data["got"]  # type: ignore[index]
    assert got["level"] == "high" and got["tags"] == ["a", "b"] and got["colour"] == "red"
    for arguments, field in (
        ({"level": "medium"}, "level"),
        ({"level": "low", "tags": [1, {"x": 2}]}, "tags"),
        ({"level": "low", "limit": "ten"}, "limit"),
        ({"level": "low", "options": "not an object"}, "options"),
        ({}, "level"),
    ):
        refused = run_command(engine, "rich.run", **arguments)
        assert refused.error is not None, arguments
        assert refused.error.code == "command.invalid_arguments"
        assert field in refused.message, refused.message


def test_each_schema_shape_maps_to_a_field_type() -> None:
    model = model_for("rich.run", RICH)
    parsed = model(level="low", limit=None, anything=3, extra=1)
    assert parsed.limit is None and parsed.anything == 3 and parsed.tags is None
    assert model(level="low").limit == 5  # the schema's default
    assert model.model_fields["level"].description == "How loud."
    with pytest.raises(ValidationError, match="tags"):
        model(level="low", tags="a")


def test_unknown_arguments_are_refused_unless_the_schema_allows_them() -> None:
    schema = {"type": "object", "properties": {"path": {"type": "string"}}}
    with pytest.raises(ValidationError, match="colour"):
        model_for("t.x", schema)(path="a", colour="red")
    assert model_for("t.x", {**schema, "additionalProperties": True})(colour="red")


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "array"},  # not an object: the plugin validates
        {"type": "object"},  # no properties declared
        {"type": "object", "properties": {"not-a-name": {"type": "string"}}},
        {"type": "object", "properties": {"path": "string"}},  # a property that is no schema
    ],
)
def test_schemas_pydantic_cannot_hold_leave_validation_to_the_plugin(
    schema: dict[str, object],
) -> None:
    model = model_for("t.x", schema)
    assert model is PluginArguments
    assert model(anything="goes").model_dump() == {"anything": "goes"}
