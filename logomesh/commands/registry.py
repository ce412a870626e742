"""The registry of commands one engine can run, and the decorator that declares them.

Each engine owns its registry (no module-global state), so tests and several engines in one
process never see each other's commands.
"""

from __future__ import annotations

import difflib
import inspect
import typing
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel

from logomesh.commands.models import CommandSpec, Handler, NoArguments
from logomesh.commands.values import RiskLevel
from logomesh.errors import CommandError, UnknownCommandError


def command(
    name: str,
    *,
    summary: str,
    permission: str,
    risk: RiskLevel,
    examples: tuple[str, ...] = (),
    timeout_s: float | None = None,
    runs_project_code: str | None = None,
) -> Callable[[Handler], CommandSpec]:
    """Declare a command; the handler's second parameter's annotation is its argument model.

    ``runs_project_code`` says why the command runs the workspace's own code (a restricted
    workspace refuses it: :attr:`~logomesh.commands.models.CommandSpec.runs_project_code`)."""

    def declare(handler: Handler) -> CommandSpec:
        params = list(inspect.signature(handler).parameters.values())
        hints = typing.get_type_hints(handler)
        model = hints.get(params[1].name, NoArguments) if len(params) > 1 else NoArguments
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise TypeError(f"command {name}: arguments must be a pydantic model, got {model!r}")
        return CommandSpec(
            name=name,
            summary=summary,
            args_model=model,
            permission=permission,
            risk=risk,
            handler=handler,
            examples=examples,
            timeout_s=timeout_s,
            runs_project_code=runs_project_code,
        )

    return declare


class CommandRegistry:
    def __init__(self) -> None:
        self._specs: dict[str, CommandSpec] = {}

    def register(self, spec: CommandSpec) -> None:
        if spec.name in self._specs:
            raise CommandError(f"A command named {spec.name!r} is already registered.")
        self._specs[spec.name] = spec

    def replace(self, spec: CommandSpec) -> None:
        """Swap in a newer spec of a registered command (a plugin's, once it started)."""
        if spec.name not in self._specs:
            raise CommandError(f"No command named {spec.name!r} to replace.")
        self._specs[spec.name] = spec

    def unregister(self, name: str) -> None:
        self._specs.pop(name, None)

    def get(self, name: str) -> CommandSpec:
        spec = self._specs.get(name)
        if spec is None:
            close = difflib.get_close_matches(name, list(self._specs), n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            # How to list the commands is each adapter's to say, in its own words (the
            # CLI's `logomesh commands`, the shell's `help`): see logomesh/cli/render.py.
            raise UnknownCommandError(f"Unknown command {name!r}.{hint}")
        return spec

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[CommandSpec]:
        return iter(sorted(self._specs.values(), key=lambda spec: spec.name))

    def __len__(self) -> int:
        return len(self._specs)


def describe_all(registry: CommandRegistry) -> list[dict[str, Any]]:
    return [spec.describe() for spec in registry]
