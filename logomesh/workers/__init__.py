"""Distributed work: pipeline steps as procrastinate jobs on team mode's PostgreSQL, run by
``logomesh worker`` processes through their own ``Engine.execute``.

``job`` is the typed payload, ``queue`` the procrastinate app built from settings, ``task``
what a worker does with a job, ``dispatch`` the run's side (enqueue, wait, abort),
``worker`` the worker process, ``rescue`` the retry of jobs whose worker died, ``results``
the table the waiting side reads, ``status`` what ``logomesh worker status`` shows.

What other features may import from this package is what this module exports; the rest is
its own business (``tests/test_boundaries.py`` holds the line).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from logomesh.lazy import lazy_exports

_EXPORTS = {
    "FEATURE": "logomesh.workers.feature",
    "WorkerSettings": "logomesh.workers.settings",
    "run_on_worker": "logomesh.workers.dispatch",
    "read_figures": "logomesh.workers.status",
    "WorkerOptions": "logomesh.workers.worker",
    "serve": "logomesh.workers.worker",
}
__all__ = ["FEATURE", "WorkerOptions", "WorkerSettings", "read_figures", "run_on_worker", "serve"]
__getattr__ = lazy_exports(__name__, _EXPORTS)

if TYPE_CHECKING:
    from logomesh.workers.dispatch import run_on_worker
    from logomesh.workers.feature import FEATURE
    from logomesh.workers.settings import WorkerSettings
    from logomesh.workers.status import read_figures
    from logomesh.workers.worker import WorkerOptions, serve
