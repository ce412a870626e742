"""Task pipelines: declarative workflows over commands, run through ``Engine.execute``.

This session holds the expression language only: :mod:`.expressions` (the syntax and the
parsed :class:`Expression`), :mod:`.evaluator` (running one over a context),
:mod:`.templates` (``${{ }}`` in strings, ``if:`` conditions), :mod:`.values` and
:mod:`.functions` (GitHub Actions' value model and functions). The file format, the
validator, the scheduler and the executor come next (issue 12); the language is
described in docs/pipeline-expressions.md.

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
}
__all__ = [
    "Expression",
    "StatusFunctions",
    "Template",
    "evaluate",
    "find_templates",
    "parse",
    "parse_condition",
    "render",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from logomesh.pipelines.evaluator import StatusFunctions, evaluate
    from logomesh.pipelines.expressions import Expression, parse
    from logomesh.pipelines.templates import Template, find_templates, parse_condition, render
