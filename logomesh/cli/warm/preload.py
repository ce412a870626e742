"""What the warm process has ready before its first fork, and how it notices new code.

Everything a command imports is imported once: the CLI, every module of the engine, and the
libraries they reach (SQLAlchemy, pydantic, rich). The embedding model is loaded and run
once, so ``logomesh do`` and ``audit search`` start with their weights in memory (shared
with each child, copy-on-write). Nothing here opens a database, starts a thread of Python's
or reads a workspace: a child inherits only the parent's memory, never its connections, and
a thread's lock held at the fork would stay held forever in the child.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import pkgutil
import site
import sys
from dataclasses import dataclass
from pathlib import Path

# Packages that run elsewhere (the plugin-side SDK in plugin processes) or start servers'
# libraries on import; a command that needs them imports them itself.
SKIPPED = ("logomesh.plugins.sdk", "logomesh.cli.warm.server")
SOURCE_PACKAGES = ("logomesh", "lsp_server", "bots")
# Imported by name at run time (SQLAlchemy finds a dialect from the URL), so walking the
# engine's modules does not reach them.
LIBRARIES = (
    "sqlalchemy.dialects.sqlite",
    "sqlalchemy.dialects.postgresql",
    "pysqlite3",
    "psycopg",
    "rich.table",
    "rich.console",
)


@dataclass(frozen=True)
class CodeStamp:
    """The newest modification of this installation's code: a change means a restart."""

    newest_source_ns: int
    source_files: int
    newest_site_ns: int


def load(log: list[str]) -> None:
    import_everything(log)
    warm_embedding_model(log)


def import_everything(log: list[str]) -> None:
    import logomesh

    importlib.import_module("logomesh.cli.app").click_command()
    for name in LIBRARIES:
        with contextlib.suppress(ImportError):
            importlib.import_module(name)
    for module in pkgutil.walk_packages(logomesh.__path__, "logomesh."):
        if module.name.startswith(SKIPPED) or module.name.endswith(".__main__"):
            continue  # a __main__ runs its program when imported
        try:
            importlib.import_module(module.name)
        except Exception as exc:  # an optional extra that is not installed: its users import it
            log.append(f"not preloaded: {module.name} ({type(exc).__name__}: {exc})")


def warm_embedding_model(log: list[str]) -> None:
    """Load and run the embedding model once, from where a default engine would load it."""
    from logomesh.config import user_cache_dir
    from logomesh.nl.embedder import Embedder, EmbedderError

    embedder = Embedder(cache_dir=user_cache_dir(dict(os.environ)) / "models")
    try:
        embedder.encode(["warm up"])
    except (EmbedderError, OSError, ImportError) as exc:
        log.append(f"embedding model not preloaded: {exc}")
    else:
        log.append(f"embedding model preloaded ({embedder.backend_name})")


def code_stamp() -> CodeStamp:
    newest, count = 0, 0
    for root in _source_roots():
        for directory, _subdirectories, files in os.walk(root):
            for name in files:
                if name.endswith(".py"):
                    with contextlib.suppress(OSError):
                        newest = max(newest, Path(directory, name).stat().st_mtime_ns)
                        count += 1
    site_newest = 0
    for directory in site.getsitepackages():
        # An install or upgrade adds or renames a *.dist-info folder here.
        with contextlib.suppress(OSError):
            site_newest = max(site_newest, Path(directory).stat().st_mtime_ns)
    return CodeStamp(newest, count, site_newest)


def _source_roots() -> list[Path]:
    roots = []
    for name in SOURCE_PACKAGES:
        module = sys.modules.get(name)
        if module is None:
            with contextlib.suppress(ImportError):
                module = importlib.import_module(name)
        file = getattr(module, "__file__", None)
        if file:
            roots.append(Path(file).parent)
    return roots
