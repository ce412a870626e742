"""Closing an engine stops the threads that may be inside the model (issue 10, item 10).

A daemon thread still running torch when Python finalises aborts the process (``terminate
called without an active exception``), so ``Engine.close`` must leave none running: the
interpreter's warm-up stops between two batches of phrasings and is joined.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from logomesh.composition import build_engine
from logomesh.config import LoadedSettings


def _model_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name in ("nl-warm-up", "nl-model-load")]


def test_closing_the_engine_stops_the_warm_up_in_flight(
    load: Callable[..., LoadedSettings],
) -> None:
    cache = Path.home() / ".cache" / "logomesh" / "models"
    loaded = load({"nl": {"model_cache_dir": str(cache)}})
    engine = build_engine(loaded.settings, provenance=loaded.provenance)
    engine.interpreter.warm_up_in_background()
    engine.start_embedding_worker()
    time.sleep(0.5)  # the model is loading or the phrasings are being embedded

    started = time.perf_counter()
    engine.close()

    assert _model_threads() == []
    assert not engine.semantic_search.worker.running
    assert time.perf_counter() - started < 60
