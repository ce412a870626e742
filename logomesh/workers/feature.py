"""Distributed work as a feature (see :class:`logomesh.commands.feature.Feature`): the
``worker.status`` command and the ``[workers]`` section. The worker process itself is not
a command (it runs until stopped): ``logomesh worker`` calls :func:`~.worker.serve`."""

from __future__ import annotations

from logomesh.commands.feature import Feature, collect_commands
from logomesh.workers import commands
from logomesh.workers.settings import WorkerSettings

FEATURE = Feature("workers", commands=collect_commands(commands), settings=WorkerSettings)
