"""Per-model health: a cooldown after repeated failures, and a concurrency limit.

State is per engine and in memory: a long-lived adapter (the shell, the LSP server, a bot)
stops hammering a failing provider for a while; a one-shot CLI process starts afresh.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

from logomesh.llm.settings import CooldownSettings


@dataclass
class _ModelState:
    failures: int = 0
    cooling_until: float = 0.0
    last_error: str | None = None


class ModelHealth:
    def __init__(self, settings: CooldownSettings) -> None:
        self.settings = settings
        self._states: dict[str, _ModelState] = {}
        self._lock = threading.Lock()

    def _state(self, name: str) -> _ModelState:
        return self._states.setdefault(name, _ModelState())

    def cooling_for(self, name: str) -> float:
        """Seconds left in the model's cooldown; 0 when it may be called."""
        with self._lock:
            return max(0.0, self._state(name).cooling_until - time.monotonic())

    def last_error(self, name: str) -> str | None:
        with self._lock:
            return self._state(name).last_error

    def succeeded(self, name: str) -> None:
        with self._lock:
            state = self._state(name)
            state.failures, state.cooling_until = 0, 0.0

    def failed(self, name: str, error: str) -> bool:
        """Count one failed call (after its retries); True if the model now cools down."""
        with self._lock:
            state = self._state(name)
            state.failures += 1
            state.last_error = error
            if state.failures >= self.settings.after_failures:
                state.failures = 0
                state.cooling_until = time.monotonic() + self.settings.seconds
                return True
            return False


class ConcurrencyLimits:
    """At most N calls in flight per model, across threads and event loops.

    A threading semaphore (not an asyncio one) because engines serve callers on several
    loops (the CLI's ``run_sync`` starts a loop per call). Waiting polls briefly, so a cancelled
    waiter never holds a permit.
    """

    def __init__(self) -> None:
        self._semaphores: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()

    def _semaphore(self, name: str, limit: int) -> threading.BoundedSemaphore:
        with self._lock:
            if name not in self._semaphores:
                self._semaphores[name] = threading.BoundedSemaphore(limit)
            return self._semaphores[name]

    async def acquire(self, name: str, limit: int) -> threading.BoundedSemaphore:
        semaphore = self._semaphore(name, limit)
        delay = 0.001
        while not semaphore.acquire(blocking=False):
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)
        return semaphore
