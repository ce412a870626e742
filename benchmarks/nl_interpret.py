"""Natural-language interpretation: accuracy on the labelled sets, warm latency, first use.

Accuracy and warm latency run in this process in a workspace holding the paths the requests
name, over two splits: ``tests/data/nl_requests.jsonl``, the set the threshold, bonus and
examples were tuned on, and ``tests/data/nl_requests_heldout.jsonl``, written afterwards
and never tuned on (see tests/nl/test_accuracy.py). Both are scored against the same 90 %
target; the held-out figure is the one that says how new requests fare. First use is timed
in a fresh Python process, from constructing the engine to the first proposal, so it
includes importing sentence-transformers and loading the model: what ``logomesh do`` pays
on a cold start.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.table import Row
from benchmarks.workspace import Workspace, open_engine, private_workspace
from logomesh.nl.evaluation import Report, evaluate, load_cases

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "nl_requests.jsonl"
HELDOUT = DATA.with_name("nl_requests_heldout.jsonl")
PROJECT_FILES = (
    "src/app.py", "src/utils.py", "src/main.py", "README.md", "pyproject.toml", "setup.cfg",
    "docs/guide.md", "tests/unit/test_app.py", "tests/test_api.py",
)  # fmt: skip
FIRST_USE = """
import json, sys, time
from pathlib import Path
started = time.perf_counter()
from logomesh.config import load_settings
from logomesh.composition import build_engine
engine = build_engine(load_settings(Path(sys.argv[1]), environ=json.loads(sys.argv[2])).settings)
proposal = engine.interpreter.interpret("what changed since main?")
print(json.dumps({"seconds": time.perf_counter() - started, "command": proposal.command}))
"""


def run(quick: bool) -> list[Row]:
    with private_workspace() as workspace:
        for name in PROJECT_FILES:
            (workspace.root / name).parent.mkdir(parents=True, exist_ok=True)
            (workspace.root / name).write_text("x = 1\n")
        engine = open_engine(workspace)
        try:
            engine.interpreter.warm_up()
            cases = load_cases(DATA)
            report = evaluate(engine.interpreter, cases[::4] if quick else cases)
            heldout = evaluate(engine.interpreter, load_cases(HELDOUT))
        finally:
            engine.close()
        first_use = [_first_use(workspace) for _ in range(1 if quick else 3)]
    p95 = report.percentile_ms(0.95)
    return [
        *_accuracy_rows("tuned", report),
        *_accuracy_rows("held-out", heldout),
        Row("interpret, model warm, p50", f"{report.percentile_ms(0.5):.1f} ms"),
        Row("interpret, model warm, p95", f"{p95:.1f} ms", "< 50 ms", p95 < 50),
        Row(
            f"interpret first use, fresh process (median of {len(first_use)})",
            f"{sorted(first_use)[len(first_use) // 2]:.2f} s",
            "< 3 s",
            sorted(first_use)[len(first_use) // 2] < 3,
        ),
    ]


def _accuracy_rows(split: str, report: Report) -> list[Row]:
    return [
        Row(
            f"NL top-1 accuracy, {split} set ({report.matching} requests)",
            f"{report.top1_accuracy:.1%}",
            ">= 90%",
            report.top1_accuracy >= 0.9,
        ),
        Row(
            f"NL 'no match' accuracy, {split} set ({report.non_matching} requests)",
            f"{report.no_match_accuracy:.1%}",
            ">= 90%",
            report.no_match_accuracy >= 0.9,
        ),
        Row(
            f"NL argument accuracy, {split} set (of correct commands)",
            f"{report.argument_accuracy:.1%}",
        ),
    ]


def _first_use(workspace: Workspace) -> float:
    proc = subprocess.run(
        [sys.executable, "-c", FIRST_USE, str(workspace.root), json.dumps(workspace.environ)],
        capture_output=True,
        text=True,
        check=True,
        env=workspace.process_environ(),
    )
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["seconds"])
