"""A watchdog that stops a plugin which tries to run more than its ``limits.processes``.

Where the plugin has a pids cgroup (``cgroups.py``) the kernel already refuses the fork past
the limit; the watchdog sees the refusal (``pids.events``) and stops the plugin, so a fork
bomb ends with a clear error instead of spinning until its call times out. Where there is
no cgroup it is the last resort: RLIMIT_NPROC counts every process of the user (so a
per-plugin value would be wrong on a machine where the user runs hundreds of processes),
and root is exempt from it altogether. Each plugin leads its own process group, so the
watchdog counts the members of each group from ``/proc`` a few times a second and kills a
group that grew past its limit; such a plugin has already run past it by what it forks in
one interval. Scanning ``/proc`` costs about a millisecond per pass on a typical machine,
and the thread runs only while plugins do.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

logger = logging.getLogger(__name__)
PROC = Path("/proc")


class Watched(Protocol):
    """What the watchdog needs of a running plugin."""

    @property
    def name(self) -> str: ...

    def group_leader(self) -> int | None: ...

    def process_limit(self) -> int: ...

    def refused_forks(self) -> int: ...


def group_sizes() -> Counter[int]:
    """How many live processes each process group has (zombies left out)."""
    sizes: Counter[int] = Counter()
    try:
        names = [name for name in os.listdir(PROC) if name.isdigit()]  # noqa: PTH208 (speed)
    except OSError:
        return sizes
    for name in names:
        try:
            fd = os.open(f"/proc/{name}/stat", os.O_RDONLY)
        except OSError:
            continue  # it exited while we looked
        try:
            stat = os.read(fd, 512)
        except OSError:
            continue
        finally:
            os.close(fd)
        # The command name may hold spaces and parentheses: the fields follow the last ")".
        fields = stat.rpartition(b")")[2].split(None, 4)
        if len(fields) > 3 and fields[0] != b"Z":
            sizes[int(fields[2])] += 1
    return sizes


class ProcessWatchdog:
    def __init__(
        self,
        plugins: Callable[[], Iterable[Watched]],
        on_exceeded: Callable[[Watched, int, bool], None],
        interval_s: float = 0.25,
    ) -> None:
        self._plugins = plugins
        self._on_exceeded = on_exceeded
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="plugin-watchdog", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            watched = [(p, p.group_leader()) for p in self._plugins()]
            watched = [(p, leader) for p, leader in watched if leader is not None]
            if not watched:
                continue
            sizes = group_sizes()
            for plugin, leader in watched:
                assert leader is not None
                count = sizes.get(leader, 0)
                refused = plugin.refused_forks() > 0
                if refused or count > plugin.process_limit():
                    try:
                        self._on_exceeded(plugin, count, refused)
                    except Exception:  # the watchdog must outlive any one plugin's failure
                        logger.exception("stopping plugin %s failed", plugin.name)
