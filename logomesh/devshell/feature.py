"""DevShell as a feature (see :class:`logomesh.commands.feature.Feature`): its built-in
commands, its ``[devshell]`` section, and the project's ``[[devshell.commands]]``, which are
registered per engine because they come from that engine's settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from logomesh.commands.feature import Feature, collect_commands
from logomesh.devshell.commands import files, git, quality, search, testing
from logomesh.devshell.settings import DevShellSettings
from logomesh.devshell.user_commands import register_user_commands

if TYPE_CHECKING:
    from logomesh.engine import Engine


def _install(engine: Engine) -> None:
    # After every feature's commands, so a user command cannot take a built-in's name.
    register_user_commands(engine.registry, engine.settings.devshell)


FEATURE = Feature(
    "devshell",
    commands=collect_commands(git, testing, quality, search, files),
    settings=DevShellSettings,
    install=_install,
)
