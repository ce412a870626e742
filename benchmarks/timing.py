"""Timing and summarising repeated runs (nearest-rank percentiles, so p95 is a time that was seen).

Besides the summaries, the pieces several benchmarks share: timing ``Engine.execute`` of one
request after another, pairing a baseline call with a measured one, and the p50/p95 rows of
a latency or of an overhead (the per-pair differences between a whole call and the part of
it that is not the overhead).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
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
        elapsed = await time_execution(engine, request())
        if i >= warmup:
            samples.append(elapsed)
    return samples


async def time_execution(
    engine: Engine, request: CommandRequest, *, audited: bool = False
) -> float:
    """Seconds ``engine.execute(request)`` took; ``RuntimeError`` unless it succeeded (and,
    when ``audited``, left an audit record)."""
    started = time.perf_counter()
    result = await engine.execute(request)
    elapsed = time.perf_counter() - started
    if not result.ok or (audited and result.audit_id is None):
        raise RuntimeError(f"{request.command} did not succeed with a record: {result.message}")
    return elapsed


def latency_rows(
    metric: str,
    samples: Sequence[float],
    *,
    measures: str,
    digits: int = 2,
    p95_target_ms: float | None = None,
) -> list[Row]:
    """The p50 and p95 of ``samples`` (seconds) in milliseconds; the p95 against its target.

    ``measures`` says what one sample is the time of (the rows' footnote)."""
    rows = []
    for label, fraction in PERCENTILES:
        value = percentile(samples, fraction) * 1000
        target = p95_target_ms if label == "p95" else None
        row = _ms_row(f"{metric}, {label}", f"{value:.{digits}f} ms", value, target)
        rows.append(replace(row, measures=measures))
    return rows


@dataclass(frozen=True)
class Paired:
    """Seconds of ``count`` runs of a baseline call and a measured call, taken in pairs.

    ``differences[i]`` is ``measured[i] - baseline[i]``: the two calls of one pair ran back to
    back, so they saw the same machine state (cache, frequency, the other processes).
    """

    baseline: list[float]
    measured: list[float]

    @property
    def differences(self) -> list[float]:
        return [m - b for m, b in zip(self.measured, self.baseline, strict=True)]


def paired(
    baseline: Callable[[], float], measured: Callable[[], float], count: int, warmup: int
) -> Paired:
    """Run ``baseline`` and ``measured`` back to back ``warmup + count`` times.

    Each callable runs its call once and returns the seconds it took (it times only the part
    it means, not its request's construction or its result's checks). The order alternates,
    baseline first in even pairs and measured first in odd ones, so neither side always pays
    for (or profits from) running second; the first ``warmup`` pairs are dropped.
    """
    baseline_s: list[float] = []
    measured_s: list[float] = []
    for i in range(warmup + count):
        if i % 2 == 0:
            base = baseline()
            whole = measured()
        else:
            whole = measured()
            base = baseline()
        if i >= warmup:
            baseline_s.append(base)
            measured_s.append(whole)
    return Paired(baseline_s, measured_s)


def overhead_rows(
    metric: str,
    pairs: Paired,
    *,
    baseline_label: str,
    measures: str,
    p95_target_ms: float | None,
    digits: int = 3,
) -> list[Row]:
    """The p50 and p95 of the per-pair differences, in milliseconds, p95 against its target
    (None: reported without one).

    Not p95(measured) - p95(baseline): the two tails need not come from the same pairs, so
    that difference can be anything from zero to the whole tail of one side. Each row also
    shows the medians of both sides (``baseline_label`` names the baseline), for scale.
    """
    differences = pairs.differences
    whole = median(pairs.measured) * 1000
    base = median(pairs.baseline) * 1000
    scale = f"medians {whole:.{digits}f} vs {base:.{digits}f} {baseline_label}"
    rows = []
    for label, fraction in PERCENTILES:
        overhead = percentile(differences, fraction) * 1000
        measured = f"{overhead:.{digits}f} ms ({scale})"
        target = p95_target_ms if label == "p95" else None
        row = _ms_row(f"{metric}, paired, {label}", measured, overhead, target)
        rows.append(replace(row, measures=measures))
    return rows


def _ms_row(metric: str, measured: str, value_ms: float, target_ms: float | None) -> Row:
    if target_ms is None:
        return Row(metric, measured)
    return Row(metric, measured, f"< {target_ms:g} ms", value_ms < target_ms)
