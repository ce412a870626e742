"""Loaded models, kept warm: each model is loaded once, on first use, and stays loaded.

A pool may be shared by several engines in one process (tests, benchmarks), so a model's
backend is keyed by its whole configuration, not only its name: two engines that configure
"fast" differently never share a backend.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

from logomesh.llm.providers import load_backend
from logomesh.llm.providers.base import Backend, LoadContext
from logomesh.llm.settings import ModelConfig


@dataclass(frozen=True, slots=True)
class LoadedModel:
    backend: Backend
    load_ms: float


class ModelPool:
    def __init__(self) -> None:
        self._loaded: dict[str, LoadedModel] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._keys: dict[int, tuple[ModelConfig, str]] = {}

    def _key(self, config: ModelConfig) -> str:
        # Serialising the whole config costs ~0.1 ms; a call asks twice, so remember it per
        # config object (kept alive alongside, so an id is never reused for another).
        known = self._keys.get(id(config))
        if known is not None and known[0] is config:
            return known[1]
        key = json.dumps(config.model_dump(mode="json"), sort_keys=True)
        self._keys[id(config)] = (config, key)
        return key

    def is_loaded(self, config: ModelConfig) -> bool:
        return self._key(config) in self._loaded

    def get(self, config: ModelConfig, context: LoadContext) -> LoadedModel:
        """The model's backend, loading it (once, even under concurrent callers) if needed."""
        key = self._key(config)
        loaded = self._loaded.get(key)
        if loaded is not None:
            return loaded
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            loaded = self._loaded.get(key)
            if loaded is None:
                started = time.perf_counter()
                backend = load_backend(config, context)
                loaded = LoadedModel(backend, (time.perf_counter() - started) * 1000)
                self._loaded[key] = loaded
        return loaded

    def close(self) -> None:
        for loaded in self._loaded.values():
            loaded.backend.close()
        self._loaded.clear()
