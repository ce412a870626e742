"""The one table the benchmarks print: metric, measured, target, and whether it was met.

Every row says what it measures: its ``measures`` text is printed under the table as a
numbered note, and the row's metric ends with that note's number (rows that measure the same
thing, such as a p50 and a p95, share one note).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, replace

HEADERS = ("metric", "measured", "target", "pass/fail")
NOTE_WIDTH = 100


@dataclass(frozen=True)
class Row:
    """One figure. ``passed`` is None for figures reported without a target; ``measures``
    says what was timed or counted, in which process, and from where to where."""

    metric: str
    measured: str
    target: str = "-"
    passed: bool | None = None
    error: bool = False
    measures: str = ""

    @property
    def result(self) -> str:
        if self.error:
            return "ERROR"
        if self.passed is None:
            return "-"
        return "PASS" if self.passed else "FAIL"

    @classmethod
    def failed_to_run(cls, metric: str, exc: BaseException) -> Row:
        return cls(metric, f"{type(exc).__name__}: {exc}", error=True, measures="did not run")


def describe(rows: Sequence[Row], measures: str) -> list[Row]:
    """``rows`` with ``measures`` (if any) as the note of those that have none of their own."""
    return [
        row if row.measures or not measures else replace(row, measures=measures) for row in rows
    ]


def render(rows: Sequence[Row]) -> str:
    """Plain text with aligned columns, then the notes that say what each row measures.

    Numbers are right-aligned so their digits line up."""
    notes: dict[str, int] = {}
    for row in rows:
        if row.measures:
            notes.setdefault(row.measures, len(notes) + 1)
    cells = [HEADERS, *((_metric(r, notes), r.measured, r.target, r.result) for r in rows)]
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
    table = [line(HEADERS, header=True), rule, *(line(values) for values in cells[1:])]
    if notes:
        table += ["", "What each row measures:"]
        table += [_note(number, text) for text, number in notes.items()]
    return "\n".join(table)


def _metric(row: Row, notes: dict[str, int]) -> str:
    return f"{row.metric} [{notes[row.measures]}]" if row.measures else row.metric


def _note(number: int, text: str) -> str:
    label = f"[{number}] "
    return textwrap.fill(text, NOTE_WIDTH, initial_indent=label, subsequent_indent=" " * len(label))


def rate(records: int, seconds: float) -> str:
    return f"{records / seconds:,.0f} records/s"
