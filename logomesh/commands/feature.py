"""What a feature package brings to an engine, said once, in one value.

Each feature package (``builtin``, ``audit``, ``devshell``, ``nl``, ``llm``, ``plugins``) has
a ``feature.py`` whose ``FEATURE`` names the commands it declares, the model of its section
of ``Settings``, and what it sets up on each engine once every feature's commands are in (the
project's ``[[devshell.commands]]``, the plugins found from their manifests). Its services
(the embedder, the model service, the plugin host...) are the names its package
``__init__`` exports. :func:`logomesh.composition.build_engine` is the one reader of
features, so an engine has exactly the features it was given.

Commands are collected from the modules that declare them (:func:`collect_commands`), so a
new ``@command`` is registered by being written, never by being listed a second time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING

from pydantic import BaseModel

from logomesh.commands.models import CommandSpec

if TYPE_CHECKING:
    from logomesh.engine import Engine


@dataclass(frozen=True, slots=True)
class Feature:
    """One feature: its commands, its settings section's model, and its per-engine setup."""

    name: str
    commands: tuple[CommandSpec, ...] = ()
    # The model of ``Settings.<name>``; None when the feature reads no section of its own.
    settings: type[BaseModel] | None = None
    # Runs once per engine after every feature's commands are registered, so what it adds
    # (user commands, plugin commands) is checked against all of them.
    install: Callable[[Engine], None] | None = None


def collect_commands(*modules: ModuleType) -> tuple[CommandSpec, ...]:
    """The commands declared in ``modules``, in the order they are declared.

    A module's ``@command`` values count, and so do tuples of specs it builds in a loop.
    Only specs whose handler is defined in that module count: a spec imported from
    elsewhere is not declared there, and must not be registered twice.
    """
    found: dict[str, CommandSpec] = {}
    for module in modules:
        for value in vars(module).values():
            for spec in value if isinstance(value, tuple) else (value,):
                if isinstance(spec, CommandSpec) and spec.handler.__module__ == module.__name__:
                    found.setdefault(spec.name, spec)
    return tuple(found.values())
