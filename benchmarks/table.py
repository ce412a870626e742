"""The one table the benchmarks print: metric, measured, target, and whether it was met."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

HEADERS = ("metric", "measured", "target", "pass/fail")


@dataclass(frozen=True)
class Row:
    """One figure. ``passed`` is None for figures reported without a target."""

    metric: str
    measured: str
    target: str = "-"
    passed: bool | None = None
    error: bool = False

    @property
    def result(self) -> str:
        if self.error:
            return "ERROR"
        if self.passed is None:
            return "-"
        return "PASS" if self.passed else "FAIL"

    @classmethod
    def failed_to_run(cls, metric: str, exc: BaseException) -> Row:
        return cls(metric, f"{type(exc).__name__}: {exc}", error=True)


def render(rows: Sequence[Row]) -> str:
    """Plain text with aligned columns; numbers are right-aligned so their digits line up."""
    cells = [HEADERS, *((r.metric, r.measured, r.target, r.result) for r in rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADERS))]

    def line(values: Sequence[str], header: bool = False) -> str:
        metric, measured, target, result = values
        parts = [
            metric.ljust(widths[0]),
            measured.ljust(widths[1]) if header else measured.rjust(widths[1]),
            target.ljust(widths[2]),
            result.ljust(widths[3]),
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(HEADERS, header=True), rule, *(line(values) for values in cells[1:])])


def rate(records: int, seconds: float) -> str:
    return f"{records / seconds:,.0f} records/s"
