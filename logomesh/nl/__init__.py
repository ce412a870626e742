"""Natural-language commands: free text in, a proposal for the one door out.

What other features may import from this package is what this module exports; the rest is
its own business (``tests/test_boundaries.py`` holds the line).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from logomesh.lazy import lazy_exports

_EXPORTS = {
    "FEATURE": "logomesh.nl.feature",
    "Embedder": "logomesh.nl.embedder",
    "Interpreter": "logomesh.nl.interpreter",
    "NLSettings": "logomesh.nl.settings",
    "import_numpy_first": "logomesh.nl.embedder",
}
__all__ = [
    "FEATURE",
    "Embedder",
    "Interpreter",
    "NLSettings",
    "import_numpy_first",
]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from logomesh.nl.embedder import Embedder, import_numpy_first
    from logomesh.nl.feature import FEATURE
    from logomesh.nl.interpreter import Interpreter
    from logomesh.nl.settings import NLSettings
