"""Reading pass/fail counts out of a test runner's output.

Each runner prints its own closing line (pytest's ``== 2 failed, 5 passed in 0.3s ==``,
cargo's ``test result: ok. 5 passed; 0 failed``, jest's ``Tests: 1 failed, 4 total``), so
each gets a small reader here, tried on the output DevShell kept. The closing lines are at
the end, which the runner's tail always keeps; only go's per-test lines are counted over
the whole output, so for a go run whose middle was cut the counts are a lower bound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from logomesh.plural import plural


@dataclass(frozen=True, slots=True)
class TestSummary:
    __test__ = False  # not a pytest test class, whatever its name says

    passed: int = 0
    failed: int = 0
    skipped: int = 0
    errors: int = 0

    def __str__(self) -> str:
        return (
            f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped, "
            f"{plural(self.errors, 'error')}"
        )


_PYTEST_LINE = re.compile(r"^=*\s*(?P<counts>.*?)\s+in\s+[\d.]+s\b.*$")
_PYTEST_COUNT = re.compile(
    r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected|warnings?)"
)
_CARGO = re.compile(r"test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored")
_JEST = re.compile(r"^Tests:\s+(?P<counts>.*\d+ total)", re.MULTILINE)
_JEST_COUNT = re.compile(r"(\d+) (passed|failed|skipped|todo)")
_VITEST = re.compile(r"^\s*Tests\s+(?P<counts>.*)\(\d+\)\s*$", re.MULTILINE)
_NODE_TEST = re.compile(r"^(?:#|\u2139) (pass|fail|skipped|todo|cancelled) (\d+)\s*$", re.MULTILINE)
_MOCHA = re.compile(r"^\s*(\d+) (passing|failing|pending)\b", re.MULTILINE)
_GO_TEST = re.compile(r"^\s*--- (PASS|FAIL|SKIP): ", re.MULTILINE)
_GO_BUILD = re.compile(r"^FAIL\s+\S+\s+\[(?:build|setup) failed\]", re.MULTILINE)


def parse_summary(runner: str, output: str) -> TestSummary | None:
    """The counts in ``output`` of ``runner`` (pytest, npm, go, cargo); None if not found."""
    readers = {"pytest": _pytest, "npm": _npm, "go": _go, "cargo": _cargo}
    return readers[runner](output)


def _pytest(output: str) -> TestSummary | None:
    for line in reversed(output.splitlines()):
        match = _PYTEST_LINE.match(line.strip())
        if match is None:
            continue
        counts = {kind: int(n) for n, kind in _PYTEST_COUNT.findall(match.group("counts"))}
        if counts or "no tests ran" in line:
            return TestSummary(
                passed=counts.get("passed", 0) + counts.get("xpassed", 0),
                failed=counts.get("failed", 0),
                skipped=counts.get("skipped", 0) + counts.get("xfailed", 0),
                errors=counts.get("error", 0) + counts.get("errors", 0),
            )
    return None


def _npm(output: str) -> TestSummary | None:
    for pattern in (_JEST, _VITEST):
        found = list(pattern.finditer(output))
        if found:
            counts = {kind: int(n) for n, kind in _JEST_COUNT.findall(found[-1].group("counts"))}
            return TestSummary(
                passed=counts.get("passed", 0),
                failed=counts.get("failed", 0),
                skipped=counts.get("skipped", 0) + counts.get("todo", 0),
            )
    node = {kind: int(n) for kind, n in _NODE_TEST.findall(output)}
    if node:
        return TestSummary(
            passed=node.get("pass", 0),
            failed=node.get("fail", 0) + node.get("cancelled", 0),
            skipped=node.get("skipped", 0) + node.get("todo", 0),
        )
    mocha = {kind: int(n) for n, kind in _MOCHA.findall(output)}
    if mocha:
        return TestSummary(
            passed=mocha.get("passing", 0),
            failed=mocha.get("failing", 0),
            skipped=mocha.get("pending", 0),
        )
    return None


def _go(output: str) -> TestSummary | None:
    results = _GO_TEST.findall(output)
    builds = len(_GO_BUILD.findall(output))
    if not results and not builds:
        return None
    return TestSummary(
        passed=results.count("PASS"),
        failed=results.count("FAIL"),
        skipped=results.count("SKIP"),
        errors=builds,
    )


def _cargo(output: str) -> TestSummary | None:
    found = _CARGO.findall(output)
    compile_failed = "error: could not compile" in output
    if not found and not compile_failed:
        return None
    return TestSummary(
        passed=sum(int(p) for p, _, _ in found),
        failed=sum(int(f) for _, f, _ in found),
        skipped=sum(int(i) for _, _, i in found),
        errors=int(compile_failed),
    )
