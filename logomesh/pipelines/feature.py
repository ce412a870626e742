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


def reload_pipelines(engine: Engine) -> None:
    """Read the pipeline files again (one was saved in an editor) and bring the
    ``pipeline.NAME`` commands in line: new ones registered, changed ones replaced, gone or
    broken ones removed. A long-lived adapter calls it (off its loop: it reads files); a
    run already under way keeps the pipeline it started with."""
    catalogue = engine.pipelines
    before = {f"pipeline.{entry.name}" for entry in catalogue.valid()}
    catalogue.load()
    now = {f"pipeline.{entry.name}": entry for entry in catalogue.valid()}
    for name in before - now.keys():
        engine.registry.unregister(name)
    for name, entry in now.items():
        if name in engine.registry:
            engine.registry.replace(pipeline_spec(engine, entry))
        else:
            engine.registry.register(pipeline_spec(engine, entry))


FEATURE = Feature("pipelines", commands=collect_commands(commands), install=_install)
