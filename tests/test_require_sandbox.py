"""LOGOMESH_REQUIRE_SANDBOX=1 (set by .ci/run) turns a missing sandbox protection from a
skip into a failure (issue 10, item 11): checked by running pytest on a small test file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

MISSING = """
    from tests.conftest import require_or_skip, requires

    @requires(False, "no such protection here")
    def test_marked():
        pass

    def test_called():
        require_or_skip("nor this one")

    @requires(True, "present")
    def test_present():
        pass
"""


def run_pytest(tmp_path: Path, required: str | None) -> subprocess.CompletedProcess[str]:
    test = tmp_path / "test_missing_protection.py"
    test.write_text(textwrap.dedent(MISSING), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "LOGOMESH_REQUIRE_SANDBOX"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if required is not None:
        env["LOGOMESH_REQUIRE_SANDBOX"] = required
    return subprocess.run(
        # The repository's conftest is loaded as a plugin: its hook reads the mark.
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "--rootdir", str(tmp_path), "-rfs", str(test)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("required", [None, "0"])
def test_without_the_variable_a_missing_protection_skips(
    tmp_path: Path, required: str | None
) -> None:
    done = run_pytest(tmp_path, required)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 2 skipped" in done.stdout
    assert "no such protection here" in done.stdout and "nor this one" in done.stdout


def test_with_the_variable_a_missing_protection_fails(tmp_path: Path) -> None:
    done = run_pytest(tmp_path, "1")
    assert done.returncode == 1, done.stdout + done.stderr
    # The mark fails the test as it sets up (an error), the call fails it as it runs.
    assert "1 failed, 1 passed" in done.stdout and "1 error" in done.stdout
    assert "no such protection here, and LOGOMESH_REQUIRE_SANDBOX=1 requires it" in done.stdout


def test_ci_requires_the_sandbox() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "export LOGOMESH_REQUIRE_SANDBOX=1" in ci
    assert ci.index("export LOGOMESH_REQUIRE_SANDBOX=1") < ci.index("make test")
