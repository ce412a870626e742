"""Code actions as a feature (see :class:`logomesh.commands.feature.Feature`).

Its commands (``code.explain``, ``code.docstring``, ``code.fix``) have no settings section
of their own: the model is the ``[llm]`` default for the purpose ``code_actions``.
"""

from __future__ import annotations

from logomesh.code import commands
from logomesh.commands.feature import Feature, collect_commands

FEATURE = Feature("code", commands=collect_commands(commands))
