"""``logomesh plugin stats``: what each plugin costs and how it is doing.

Per plugin: its state, pid, the CPU time and resident memory of its whole process tree (the
plugin and every descendant, read with psutil), its calls, errors and latency percentiles
(from the running process's :class:`CallStats`, the last 1000 calls), its restarts and its
uptime. Processes end at any moment, so every read of another process tolerates it having
vanished in between; a plugin whose process is gone simply has no pid, CPU or memory.

The arithmetic (percentiles, rounding, one row per plugin) is in pure functions; only
:func:`tree_usage` touches the operating system.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psutil

from logomesh.plural import plural

if TYPE_CHECKING:
    from logomesh.plugins.plugin import Plugin

MB = 1024 * 1024
_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)


@dataclass(frozen=True, slots=True)
class TreeUsage:
    """CPU and memory of one process and all its descendants, summed."""

    cpu_s: float  # user + system, including descendants that already exited and were reaped
    rss_bytes: int
    processes: int


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * min(max(q, 0.0), 100.0) / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(latencies_ms: Iterable[float]) -> dict[str, float | None]:
    values = list(latencies_ms)
    return {f"p{q}_ms": _round(percentile(values, q), 2) for q in (50, 95, 99)}


def tree_usage(pid: int) -> TreeUsage | None:
    """Sum CPU time and RSS over ``pid`` and its descendants; None if ``pid`` is gone."""
    try:
        root = psutil.Process(pid)
        members = [root, *root.children(recursive=True)]
    except _GONE:
        return None
    cpu, rss, alive = 0.0, 0, 0
    for process in members:
        try:
            with process.oneshot():
                times = process.cpu_times()
                memory = process.memory_info()
        except _GONE:
            continue  # ended between the listing and the read: it no longer costs anything
        cpu += times.user + times.system + times.children_user + times.children_system
        rss += memory.rss
        alive += 1
    if alive == 0:
        return None
    return TreeUsage(cpu, rss, alive)


def plugin_stats(plugin: Plugin, *, now: float | None = None) -> dict[str, Any]:
    """One row: state, pid, cpu, memory, calls, errors, latency percentiles, restarts, uptime.

    Calls, errors and latencies belong to the plugin's current (or last) process: a restart
    starts them again from zero, and ``restarts`` counts how often that happened.
    """
    process = plugin.process
    running = process is not None and process.running
    pid = process.pid if process is not None and running else None
    usage = tree_usage(pid) if pid is not None else None
    stats = process.stats if process is not None else None
    started = process.started_at if process is not None and running else None
    now = time.monotonic() if now is None else now
    return {
        "name": plugin.name,
        "state": str(plugin.state),
        "pid": pid,
        "processes": usage.processes if usage else None,
        "cpu_s": _round(usage.cpu_s, 3) if usage else None,
        "rss_mb": _round(usage.rss_bytes / MB, 1) if usage else None,
        "calls": stats.calls if stats else 0,
        "errors": stats.errors if stats else 0,
        **latency_summary(stats.latencies_ms if stats else ()),
        "restarts": plugin.crashes,
        "uptime_s": _round(max(0.0, now - started), 1) if started is not None else None,
    }


def collect(plugins: Iterable[Plugin]) -> list[dict[str, Any]]:
    now = time.monotonic()
    return [plugin_stats(plugin, now=now) for plugin in sorted(plugins, key=_name)]


def summary(rows: Sequence[dict[str, Any]]) -> str:
    running = [row for row in rows if row["pid"] is not None]
    rss = sum(row["rss_mb"] or 0.0 for row in running)
    cpu = sum(row["cpu_s"] or 0.0 for row in running)
    calls = sum(row["calls"] for row in rows)
    return (
        f"{plural(len(rows), 'plugin')}, {len(running)} running: {rss:.1f} MB resident, "
        f"{cpu:.2f} s CPU, "
        f"{plural(calls, 'call')}."
    )


def _name(plugin: Plugin) -> str:
    return plugin.name


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
