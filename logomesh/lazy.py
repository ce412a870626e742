"""A package's public names, imported on first use.

A feature package's ``__init__`` is what other features may import from it; it must stay
cheap, because importing any module of the package runs it first (``config`` reading
``logomesh.llm.settings`` must not load SQLAlchemy through ``logomesh.llm``). Each name is
therefore resolved from its module when it is first asked for (PEP 562).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` serving ``exports`` (name -> module) for ``package``."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(module), name)

    return __getattr__
