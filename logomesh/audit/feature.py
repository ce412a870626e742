"""The audit trail's commands, as a feature (see :class:`logomesh.commands.feature.Feature`).

The trail itself is the engine's (every command writes to it); what this feature adds is
reading, searching, verifying, exporting and pruning it. Its ``[audit]`` section stays in
``config`` beside ``[security]``: both hold keys that only the user's own configuration may set.
"""

from __future__ import annotations

from logomesh.audit import commands
from logomesh.commands.feature import Feature, collect_commands

FEATURE = Feature("audit", commands=collect_commands(commands))
