"""Timing and summarising repeated runs (nearest-rank percentiles, so p95 is a time that was seen).

Besides the summaries, the pieces several benchmarks share: timing ``Engine.execute`` of one
request after another, and the p50/p95 rows of a latency or of an overhead (a whole call
against the part of it that is not the overhead).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from benchmarks.table import Row

if TYPE_CHECKING:
    from logomesh.commands.models import CommandRequest
    from logomesh.engine import Engine

#: The percentiles reported for a latency: label and fraction.
PERCENTILES: tuple[tuple[str, float], ...] = (("p50", 0.5), ("p95", 0.95))


def percentile(samples: Sequence[float], fraction: float) -> float:
    if not samples:
        raise ValueError("no samples to summarise")
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples)


async def time_executions(
    engine: Engine, request: Callable[[], CommandRequest], count: int, warmup: int
) -> list[float]:
    """Seconds taken by ``engine.execute`` of ``warmup + count`` requests, one after another.

    ``request`` makes each request (untimed); the first ``warmup`` timings are dropped. A
    request that does not succeed raises ``RuntimeError``.
    """
    samples: list[float] = []
    for i in range(warmup + count):
        command = request()
        started = time.perf_counter()
        result = await engine.execute(command)
        elapsed = time.perf_counter() - started
        if not result.ok:
            raise RuntimeError(f"{command.command} did not succeed: {result.message}")
        if i >= warmup:
            samples.append(elapsed)
    return samples


def latency_rows(
    metric: str, samples: Sequence[float], *, digits: int = 2, p95_target_ms: float | None = None
) -> list[Row]:
    """The p50 and p95 of ``samples`` (seconds) in milliseconds; the p95 against its target."""
    rows = []
    for label, fraction in PERCENTILES:
        value = percentile(samples, fraction) * 1000
        target = p95_target_ms if label == "p95" else None
        rows.append(_ms_row(f"{metric}, {label}", f"{value:.{digits}f} ms", value, target))
    return rows


def overhead_rows(
    metric: str,
    total: Sequence[float],
    baseline: Sequence[float],
    *,
    baseline_label: str,
    p95_target_ms: float,
    baseline_digits: int = 2,
) -> list[Row]:
    """The p50 and p95 of ``total`` less those of ``baseline`` (seconds), in milliseconds.

    Each row shows the overhead and both figures (``baseline_label`` names the baseline); the
    p95 overhead is held against ``p95_target_ms``.
    """
    rows = []
    for label, fraction in PERCENTILES:
        base = percentile(baseline, fraction) * 1000
        whole = percentile(total, fraction) * 1000
        overhead = whole - base
        measured = f"{overhead:.2f} ms ({whole:.2f} vs {base:.{baseline_digits}f} {baseline_label})"
        target = p95_target_ms if label == "p95" else None
        rows.append(_ms_row(f"{metric}, {label}", measured, overhead, target))
    return rows


def _ms_row(metric: str, measured: str, value_ms: float, target_ms: float | None) -> Row:
    if target_ms is None:
        return Row(metric, measured)
    return Row(metric, measured, f"< {target_ms:g} ms", value_ms < target_ms)
