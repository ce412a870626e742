"""The engine's own commands, as a feature (see :class:`logomesh.commands.feature.Feature`)."""

from __future__ import annotations

from logomesh.builtin import db_commands, engine_commands, trust_commands
from logomesh.commands.feature import Feature, collect_commands

FEATURE = Feature(
    "builtin", commands=collect_commands(engine_commands, db_commands, trust_commands)
)
