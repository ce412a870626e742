"""CLI fixtures: the real ``logomesh`` console script, run in a private workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

LOGOMESH = Path(sys.executable).parent / "logomesh"


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def cli_env(tmp_path: Path, test_env: dict[str, str]) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("LOGOMESH_")}
    return {**keep, **test_env, "COLUMNS": "200", "NO_COLOR": "1"}


@pytest.fixture
def cli(workspace: Path, cli_env: dict[str, str]) -> Callable[..., Run]:
    """Run the installed console script as a subprocess, with no terminal."""

    def _cli(*args: str, env: dict[str, str] | None = None, stdin: str = "") -> Run:
        proc = subprocess.run(
            [str(LOGOMESH), *args],
            cwd=workspace,
            env={**cli_env, **(env or {})},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    return _cli
