"""Plugins as a feature (see :class:`logomesh.commands.feature.Feature`).

Its own commands manage plugins; the commands plugins contribute are registered per engine,
from the manifests discovery finds, after every built-in command so a clash is reported
against all of them. Nothing is started here: a plugin starts on its first call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from logomesh.commands.feature import Feature, collect_commands
from logomesh.plugins import commands, lifecycle_commands
from logomesh.plugins.settings import PluginSettings

if TYPE_CHECKING:
    from logomesh.engine import Engine


def _install(engine: Engine) -> None:
    engine.plugins.discover()


FEATURE = Feature(
    "plugins",
    commands=collect_commands(commands, lifecycle_commands),
    settings=PluginSettings,
    install=_install,
)
