"""Scoring the interpreter against a labelled set of requests.

Shared by the accuracy test (which fails under the targets) and the benchmark (which prints
the figures), and usable by anyone tuning the examples of their own commands: a labelled
case names the command a request should become (or null for "nothing matches") and the
arguments it must carry; other extracted arguments are allowed.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logomesh.nl.interpreter import Interpreter
from logomesh.nl.normalise import Vocabulary

# A request sharing this share of its words with an example is the example again, reworded
# (Jaccard similarity of the two word sets: |A & B| / |A | B|).
NEAR_DUPLICATE_SIMILARITY = 0.8
# Words that add nothing to a request: "show me the audit log" is "show the audit log".
_FILLERS = frozenset(("please", "the", "a", "an", "me", "my", "our", "your", "now", "just"))
_NOT_A_WORD = re.compile(r"[^\w\s]|_")


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


@dataclass(frozen=True)
class NearDuplicate:
    """A labelled request that is (almost) one of the phrasings the interpreter embeds."""

    text: str
    example: str
    command: str
    similarity: float

    def __str__(self) -> str:
        return f"{self.text!r} ~ {self.example!r} of {self.command} ({self.similarity:.2f})"


def near_duplicates(
    cases: Iterable[Case],
    examples: Sequence[tuple[str, str]],
    threshold: float = NEAR_DUPLICATE_SIMILARITY,
) -> list[NearDuplicate]:
    """The cases whose words are (nearly) those of an example: ``(command, phrase)`` pairs.

    Both sides are normalised alike: typos corrected against the examples' vocabulary (as
    the interpreter does), case folded, quotes and punctuation dropped, fillers removed.
    So ``search for "TODO"`` is a duplicate of ``search for TODO``, and ``show me the audit
    log please`` of ``show the audit log``.
    """
    vocabulary = Vocabulary(phrase for _, phrase in examples)
    keyed = [(command, phrase, word_set(phrase, vocabulary)) for command, phrase in examples]
    found = []
    for case in cases:
        words = word_set(case.text, vocabulary)
        best = max(keyed, key=lambda item: _jaccard(words, item[2]), default=None)
        if best is not None and (similarity := _jaccard(words, best[2])) >= threshold:
            found.append(NearDuplicate(case.text, best[1], best[0], similarity))
    return found


def word_set(text: str, vocabulary: Vocabulary) -> frozenset[str]:
    """The words of ``text`` that say what it asks for, normalised for comparison."""
    words = _NOT_A_WORD.sub(" ", vocabulary.correct(text).casefold()).split()
    return frozenset(words) - _FILLERS or frozenset(words)


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = a | b
    return len(a & b) / len(union) if union else 1.0
