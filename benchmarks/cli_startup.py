"""How long ``logomesh --help`` takes, as a person runs it: a fresh process each time.

The installed console script is run, not the module, so the figure includes the entry-point
shim and every import the CLI does before it can print help. One untimed run first warms the
file-system cache, which a person who uses the tool daily always has warm.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from benchmarks.table import Row
from benchmarks.timing import median, percentile
from benchmarks.workspace import private_workspace

TARGET_S = 0.3
MEASURES = (
    "Wall seconds from starting the installed `logomesh --help` console script to its exit, "
    "a fresh process each run, file-system cache warm (one untimed run first)."
)


def console_script() -> Path:
    return Path(sys.executable).parent / "logomesh"


def run(quick: bool) -> list[Row]:
    runs = 3 if quick else 10
    script = console_script()
    if not script.exists():
        raise FileNotFoundError(f"{script} is not installed (pip install -e .)")
    with private_workspace() as workspace:
        env = workspace.process_environ()
        samples = [_time_once(script, workspace.root, env) for _ in range(runs + 1)][1:]
    metric = f"`logomesh --help` start ({runs} runs)"
    mid, p95 = median(samples), percentile(samples, 0.95)
    target = f"< {TARGET_S:g} s"
    return [
        Row(f"{metric}, median", f"{mid:.3f} s", target, mid < TARGET_S, measures=MEASURES),
        Row(f"{metric}, p95", f"{p95:.3f} s", target, p95 < TARGET_S, measures=MEASURES),
    ]


def _time_once(script: Path, cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [str(script), "--help"], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"`logomesh --help` exited {done.returncode}: {tail[0]}")
    return elapsed
