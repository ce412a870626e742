"""The model registry as a feature (see :class:`logomesh.commands.feature.Feature`).

Its commands list, ask, test, declare and account for models; its service, :class:`LLMService`, is
built by the engine on first use over a model pool that ``build_engine(models=...)`` may
supply. Importing this module loads no model runtime: providers load when a model is used.
"""

from __future__ import annotations

from logomesh.commands.feature import Feature, collect_commands
from logomesh.llm import commands, declare
from logomesh.llm.settings import LLMSettings

FEATURE = Feature("llm", commands=collect_commands(commands, declare), settings=LLMSettings)
