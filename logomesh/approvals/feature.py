"""Approvals as a feature (see :class:`logomesh.commands.feature.Feature`): the
``approvals.*`` commands; the tickets themselves are the engine's, opened by its gate."""

from __future__ import annotations

from logomesh.approvals import commands
from logomesh.commands.feature import Feature, collect_commands

FEATURE = Feature("approvals", commands=collect_commands(commands))
