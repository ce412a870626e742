"""Code actions' model work: explain code, write a docstring, fix a diagnostic.

An editor (the language server) or any other adapter sends the code it has (a selection, a
function, the lines of a diagnostic) to the ``code.*`` commands, which ask the model the
registry names for the purpose ``code_actions`` and return text or an edit for the adapter
to show or apply. Being commands, every call is authorised and audited, and each model call
is an ``llm.call`` record under the command's correlation id.

What other features may import from this package is what this module exports; the rest is
its own business (``tests/test_boundaries.py`` holds the line).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from logomesh.lazy import lazy_exports

_EXPORTS = {
    "FEATURE": "logomesh.code.feature",
    "MAX_EXCERPT": "logomesh.code.prompts",
    "language_of": "logomesh.code.prompts",
}
__all__ = ["FEATURE", "MAX_EXCERPT", "language_of"]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from logomesh.code.feature import FEATURE
    from logomesh.code.prompts import MAX_EXCERPT, language_of
