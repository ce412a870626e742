"""Every process a plugin host started, and its pending restarts: so that closing the host,
or the interpreter exiting, stops all of them, once.

A restart runs on a timer thread, and a start can be under way on another thread when the
host closes (or when a one-off CLI run simply returns and the interpreter exits, killing
its daemon threads mid-start). Each plugin leads its own session, so nothing else would stop
a process started in that window: it would live on with parent pid 1. So spawning goes
through :meth:`Children.spawn`, which checks a closed flag under the same lock that
:meth:`Children.close` sets it under: a process is either refused or registered before the
host collects what to stop. An ``atexit`` hook stops whatever is left when the interpreter
ends without ``Engine.close``.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from typing import Any

from logomesh.errors import PluginError
from logomesh.plugins.session import McpSession

# At interpreter exit there is no caller to wait for: a well-behaved plugin ends at the end
# of its stdin within milliseconds; the rest are killed after this.
_EXIT_GRACE_S = 0.5


class Children:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closed = False
        self._processes: set[McpSession] = set()
        self._timers: set[threading.Timer] = set()
        self._hooked = False

    @property
    def closed(self) -> bool:
        return self._closed

    def spawn(self, process: McpSession) -> None:
        """Start ``process``'s OS process, unless the host is closing (PluginError)."""
        with self._lock:
            if self._closed:
                raise PluginError(
                    f"Plugin {process.name} was not started: LogoMesh is shutting down."
                )
            ended = {p for p in self._processes if not p.running}
            self._processes -= ended
            process.spawn()
            self._processes.add(process)
            if not self._hooked:
                atexit.register(self._at_exit)
                self._hooked = True
        for old in ended:  # forgotten, after what they left (children, cgroup) is gone
            old.stop(0)

    def later(self, delay_s: float, action: Callable[..., Any], *args: Any) -> None:
        """Run ``action(*args)`` after ``delay_s`` on a timer thread, unless closed first."""

        def run() -> None:
            with self._lock:
                self._timers.discard(timer)
                if self._closed:
                    return
            action(*args)

        timer = threading.Timer(delay_s, run)
        timer.daemon = True
        with self._lock:
            if self._closed:
                return
            self._timers.add(timer)
        timer.start()

    def close(self) -> None:
        """Refuse every spawn and restart from now on; cancel the restarts pending."""
        with self._lock:
            self._closed = True
            timers, self._timers = self._timers, set()
        for timer in timers:
            timer.cancel()

    def stop_starting(self, grace_s: float) -> None:
        """Stop the processes still in their handshake (the thread starting one holds its
        plugin's lock until the handshake ends: this ends it now)."""
        self._stop([p for p in self._snapshot() if p.started_at is None], grace_s)

    def stop_all(self, grace_s: float) -> None:
        """Stop every process started and not yet stopped (call after :meth:`close`)."""
        self._stop(self._snapshot(), grace_s)
        if self._hooked:
            atexit.unregister(self._at_exit)
            self._hooked = False

    def _snapshot(self) -> list[McpSession]:
        with self._lock:
            return list(self._processes)

    @staticmethod
    def _stop(processes: list[McpSession], grace_s: float) -> None:
        threads = [threading.Thread(target=p.stop, args=(grace_s,)) for p in processes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _at_exit(self) -> None:
        self.close()
        self.stop_all(_EXIT_GRACE_S)
