"""How long a CLI command takes from a person's shell: cold, warm, and beside simonw/llm.

Each figure is a whole process, timed from start to exit as a shell sees it: the installed
``logomesh`` console script in a fresh git repository set up by ``logomesh init``, a private
home, the file-system cache warm (one untimed run of each command first).

- cold: ``LOGOMESH_WARM=0``, every command imports and loads everything itself;
- warm: a warm process (``logomesh warm start``, logomesh.cli.warm) forks the command;
- the baseline: ``llm logs -n 1`` of simonw/llm 0.36 (``make bench-tools`` installs it in
  .venv-bench/), a Python CLI reading one row of its SQLite log, run alternately with the
  warm ``audit tail -n 1`` so both see the same machine.

``python -m benchmarks.cli_commands`` runs this one alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.cli_startup import console_script
from benchmarks.table import Row, render
from benchmarks.timing import median
from benchmarks.workspace import private_workspace

READ_TARGET_S = 0.4
DO_TARGET_S = 1.0
BASELINE_FACTOR = 2.0
COMMANDS = {
    "whoami": ["whoami"],
    "audit tail -n 1": ["audit", "tail", "-n", "1"],
    'do "show git status"': ["do", "show git status"],
}
BASELINE = Path(__file__).resolve().parent.parent / ".venv-bench" / "bin" / "llm"
MEASURES = (
    "Median wall seconds of a whole `logomesh` process, from start to exit, in a fresh git "
    "repository after `logomesh init`: cold is LOGOMESH_WARM=0 (the process imports and "
    "loads everything), warm is the same command forked by a running warm process "
    "(`logomesh warm start`); `do` is a read command interpreted by the embedding model."
)
BASELINE_MEASURES = (
    "Median wall seconds of `llm logs -n 1` (simonw/llm 0.36, its own venv from `make "
    "bench-tools`, a private LLM_USER_PATH), run alternately with the warm `audit tail -n 1`; "
    "the factor is llm's median over LogoMesh's."
)
WARM_MEASURES = (
    "The warm process after `logomesh warm start`: seconds until it serves (imports, the "
    "embedding model), and its resident memory (RSS) once it served the runs above."
)


def run(quick: bool) -> list[Row]:
    runs = 3 if quick else 15
    script = console_script()
    with (
        private_workspace() as workspace,
        tempfile.TemporaryDirectory(prefix="lm-warm-", dir="/tmp") as warm_dir,
    ):
        env = {
            **workspace.process_environ(),
            # The compiled embedding model from the user's cache, as a person's is warm.
            "XDG_CACHE_HOME": os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache"),
            "LOGOMESH_WARM_DIR": warm_dir,
        }
        root = workspace.root
        _prepare(script, root, env)
        cold_env = {**env, "LOGOMESH_WARM": "0"}
        warm_env = {**env, "LOGOMESH_WARM": "1"}
        rows = [_row(f"{name}, cold", _samples(script, argv, root, cold_env, runs), None)
                for name, argv in COMMANDS.items()]  # fmt: skip
        ready_s = _start_warm(script, root, warm_env)
        try:
            rows += _warm_rows(script, root, warm_env, runs)
            rows += _baseline_rows(script, root, warm_env, runs)
            rows += _warm_process_rows(script, root, warm_env, ready_s)
        finally:
            _run(script, ["warm", "stop"], root, warm_env)
    return rows


def _prepare(script: Path, root: Path, env: dict[str, str]) -> None:
    git = shutil.which("git") or "git"
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"]):
        subprocess.run([git, *argv], cwd=root, env=env, check=True)
    (root / "README.md").write_text("bench\n")
    subprocess.run(
        [git, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "add", "-A"],
        cwd=root, env=env, check=True,
    )  # fmt: skip
    subprocess.run(
        [git, "-c", "user.name=bench", "-c", "user.email=bench@example.com", "commit", "-qm",
         "first"], cwd=root, env=env, check=True,
    )  # fmt: skip
    _run(script, ["init"], root, {**env, "LOGOMESH_WARM": "0"})


def _warm_rows(script: Path, root: Path, env: dict[str, str], runs: int) -> list[Row]:
    rows = []
    for name, argv in COMMANDS.items():
        target = DO_TARGET_S if argv[0] == "do" else READ_TARGET_S
        rows.append(_row(f"{name}, warm", _samples(script, argv, root, env, runs), target))
    return rows


def _baseline_rows(script: Path, root: Path, env: dict[str, str], runs: int) -> list[Row]:
    if not BASELINE.exists():
        raise FileNotFoundError(f"{BASELINE} is not installed: run `make bench-tools`")
    with tempfile.TemporaryDirectory(prefix="llm-bench-") as llm_home:
        llm_env = {**env, "LLM_USER_PATH": llm_home}
        _one_llm_log(Path(llm_home))
        ours, theirs = [], []
        for _ in range(runs + 1):
            ours.append(_time(lambda: _run(script, COMMANDS["audit tail -n 1"], root, env)))
            theirs.append(_time(lambda: _run(BASELINE, ["logs", "-n", "1"], root, llm_env)))
    ours, theirs = ours[1:], theirs[1:]
    factor = median(theirs) / median(ours)
    return [
        Row(f"`llm logs -n 1` (simonw/llm), median ({runs} runs)", f"{median(theirs):.3f} s",
            measures=BASELINE_MEASURES),
        Row("`llm logs -n 1` / warm `audit tail -n 1`", f"{factor:.1f}x",
            f">= {BASELINE_FACTOR:g}x", factor >= BASELINE_FACTOR, measures=BASELINE_MEASURES),
    ]  # fmt: skip


# Run by llm's own interpreter: its migrations make the log database, then one answer.
SEED_LLM_LOG = """
import sys, sqlite_utils, llm.migrations
db = sqlite_utils.Database(sys.argv[1])
llm.migrations.migrate(db)
db["conversations"].insert({"id": "c1", "name": "bench", "model": "echo"})
db["responses"].insert({"id": "r1", "model": "echo", "prompt": "what does git rebase do?",
    "response": "It replays commits.", "conversation_id": "c1",
    "datetime_utc": "2026-12-01T00:00:00"})
"""


def _one_llm_log(home: Path) -> None:
    python = BASELINE.parent / "python"
    subprocess.run([str(python), "-c", SEED_LLM_LOG, str(home / "logs.db")], check=True)


def _warm_process_rows(script: Path, root: Path, env: dict[str, str], ready_s: float) -> list[Row]:
    import json

    import psutil

    status = json.loads(_run(script, ["warm", "status", "--json"], root, env).stdout)
    rss_mb = psutil.Process(int(status["pid"])).memory_info().rss / 1e6
    return [
        Row("warm process: ready after `warm start`", f"{ready_s:.1f} s", measures=WARM_MEASURES),
        Row("warm process: resident memory", f"{rss_mb:.0f} MB", measures=WARM_MEASURES),
    ]


def _start_warm(script: Path, root: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    _run(script, ["warm", "start"], root, env)
    return time.perf_counter() - started


def _samples(
    script: Path, argv: list[str], root: Path, env: dict[str, str], runs: int
) -> list[float]:
    return [_time(lambda: _run(script, argv, root, env)) for _ in range(runs + 1)][1:]


def _row(name: str, samples: list[float], target_s: float | None) -> Row:
    mid = median(samples)
    metric = f"`logomesh {name}`, median ({len(samples)} runs)"
    if target_s is None:
        return Row(metric, f"{mid:.3f} s", measures=MEASURES)
    return Row(metric, f"{mid:.3f} s", f"< {target_s:g} s", mid < target_s, measures=MEASURES)


def _time(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _run(
    program: Path, argv: list[str], root: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(program), *argv], cwd=root, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"`{program.name} {' '.join(argv)}` exited {done.returncode}: {tail[0]}")
    return done


if __name__ == "__main__":
    print(render(run(quick=False)))
