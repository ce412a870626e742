"""Task pipelines: declarative workflows over commands, run through ``Engine.execute``.

The expression language (:mod:`.expressions`, :mod:`.evaluator`, :mod:`.templates`,
:mod:`.values`, :mod:`.functions`; docs/pipeline-expressions.md), the file format and its
validation (:mod:`.model`, :mod:`.loader`, :mod:`.validation`), the step graph and
scheduler (:mod:`.graph`), the executor and its events (:mod:`.executor`, :mod:`.events`),
stored runs (:mod:`.store`, migration 0004, written by :mod:`.recorder`), a workspace's
pipelines (:mod:`.catalogue`), each one's command ``pipeline.NAME``
(:mod:`.pipeline_command`) and the management commands (:mod:`.commands`), put into an
engine by :mod:`.feature`. docs/pipelines.md describes them.

What other packages may import is what this module exports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from logomesh.lazy import lazy_exports

_EXPORTS = {
    "Expression": "logomesh.pipelines.expressions",
    "parse": "logomesh.pipelines.expressions",
    "evaluate": "logomesh.pipelines.evaluator",
    "StatusFunctions": "logomesh.pipelines.evaluator",
    "Template": "logomesh.pipelines.templates",
    "find_templates": "logomesh.pipelines.templates",
    "parse_condition": "logomesh.pipelines.templates",
    "render": "logomesh.pipelines.templates",
    "reload_pipelines": "logomesh.pipelines.feature",
}
__all__ = [
    "Expression",
    "StatusFunctions",
    "Template",
    "evaluate",
    "find_templates",
    "parse",
    "parse_condition",
    "reload_pipelines",
    "render",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from logomesh.pipelines.evaluator import StatusFunctions, evaluate
    from logomesh.pipelines.expressions import Expression, parse
    from logomesh.pipelines.feature import reload_pipelines
    from logomesh.pipelines.templates import Template, find_templates, parse_condition, render
