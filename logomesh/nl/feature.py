"""Natural-language commands as a feature (see :class:`logomesh.commands.feature.Feature`).

``nl.interpret`` is its command; the embedder and the interpreter are its services, built
by the engine on first use (and injectable through ``build_engine(embedder=...)``).
"""

from __future__ import annotations

from logomesh.commands.feature import Feature, collect_commands
from logomesh.nl import flow
from logomesh.nl.settings import NLSettings

FEATURE = Feature("nl", commands=collect_commands(flow), settings=NLSettings)
