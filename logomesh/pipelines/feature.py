"""Pipelines as a feature (see :class:`logomesh.commands.feature.Feature`).

Its own commands manage pipelines; each valid pipeline file becomes the command
``pipeline.NAME``, registered per engine once every other feature's commands (plugins'
too) are in, since a pipeline's steps are checked against all of them and its risk is
theirs. A broken file is reported by ``pipeline list``/``validate``, never fatal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from logomesh.commands.feature import Feature, collect_commands
from logomesh.pipelines import commands
from logomesh.pipelines.files import pipeline_files, pipeline_folders
from logomesh.pipelines.pipeline_command import pipeline_spec

if TYPE_CHECKING:
    from logomesh.engine import Engine


def _install(engine: Engine) -> None:
    if not pipeline_files(pipeline_folders(engine.settings)):
        return  # nothing to load: the file format's machinery stays unimported
    catalogue = engine.pipelines
    catalogue.load()
    for entry in catalogue.valid():
        name = f"pipeline.{entry.name}"
        if name not in engine.registry:  # a test's own command of that name stands
            engine.registry.register(pipeline_spec(engine, entry))


FEATURE = Feature("pipelines", commands=collect_commands(commands), install=_install)
