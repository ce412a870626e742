"""Scoring the interpreter against a labelled set of requests.

Shared by the accuracy test (which fails under the targets) and the benchmark (which prints
the figures), and usable by anyone tuning the examples of their own commands: a labelled
case names the command a request should become (or null for "nothing matches") and the
arguments it must carry; other extracted arguments are allowed.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logomesh.nl.interpreter import Interpreter


@dataclass(frozen=True)
class Case:
    text: str
    command: str | None
    arguments: dict[str, Any]


@dataclass
class Report:
    matching: int = 0
    top1_correct: int = 0
    arguments_correct: int = 0
    non_matching: int = 0
    no_match_correct: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    @property
    def top1_accuracy(self) -> float:
        return self.top1_correct / self.matching if self.matching else 0.0

    @property
    def argument_accuracy(self) -> float:
        return self.arguments_correct / self.top1_correct if self.top1_correct else 0.0

    @property
    def no_match_accuracy(self) -> float:
        return self.no_match_correct / self.non_matching if self.non_matching else 0.0

    def percentile_ms(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0

    def summary(self) -> str:
        return (
            f"top-1 {self.top1_accuracy:.1%} of {self.matching}, arguments "
            f"{self.argument_accuracy:.1%} of the correct ones, no-match "
            f"{self.no_match_accuracy:.1%} of {self.non_matching}, p95 "
            f"{self.percentile_ms(0.95):.1f} ms"
        )


def load_cases(path: Path) -> list[Case]:
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                raw = json.loads(line)
                cases.append(Case(raw["text"], raw["command"], dict(raw.get("arguments", {}))))
            except (ValueError, KeyError) as exc:
                raise ValueError(f"{path}:{number}: not a labelled case ({exc})") from exc
    return cases


def evaluate(interpreter: Interpreter, cases: list[Case]) -> Report:
    report = Report()
    for case in cases:
        started = time.perf_counter()
        proposal = interpreter.interpret(case.text)
        report.latencies_ms.append((time.perf_counter() - started) * 1000)
        if case.command is None:
            report.non_matching += 1
            if proposal.command is None:
                report.no_match_correct += 1
            else:
                report.misses.append(f"{case.text!r}: expected no match, got {proposal.command}")
            continue
        report.matching += 1
        if proposal.command != case.command:
            report.misses.append(
                f"{case.text!r}: expected {case.command}, got {proposal.command} "
                f"({proposal.confidence:.2f})"
            )
            continue
        report.top1_correct += 1
        if all(_same(proposal.arguments.get(k), v) for k, v in case.arguments.items()):
            report.arguments_correct += 1
        else:
            report.misses.append(
                f"{case.text!r}: arguments {proposal.arguments}, expected {case.arguments}"
            )
    return report


def _same(got: Any, expected: Any) -> bool:
    return got == expected or str(got) == str(expected)
