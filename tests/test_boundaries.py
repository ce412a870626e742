"""Architecture rules that must not erode: dependencies point inward, start-up stays lazy."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ADAPTER_SDKS = {
    "pygls",
    "lsprotocol",
    "slack_bolt",
    "slack_sdk",
    "discord",
    "typer",
    "click",
    "rich",
}


def _imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_engine_imports_no_adapter_sdk() -> None:
    """logomesh/ outside logomesh/cli/ never imports pygls, slack, discord, typer, rich..."""
    offenders = []
    for path in sorted((ROOT / "logomesh").rglob("*.py")):
        if "cli" in path.relative_to(ROOT / "logomesh").parts[:1]:
            continue
        bad = _imported_top_levels(path) & ADAPTER_SDKS
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {', '.join(sorted(bad))}")
    assert offenders == []


def test_the_boundary_check_catches_a_violation(tmp_path: Path) -> None:
    """The walker really sees both import forms (so the rule above cannot pass vacuously)."""
    sample = tmp_path / "sample.py"
    sample.write_text("import rich.console\nfrom slack_bolt import App\nfrom . import x\n")
    assert _imported_top_levels(sample) & ADAPTER_SDKS == {"rich", "slack_bolt"}


def test_cli_help_imports_no_engine_dependencies() -> None:
    """`logomesh --help` must not pay for SQLAlchemy, pydantic, alembic or cryptography."""
    code = (
        "import sys\n"
        "from logomesh.cli.app import app\n"
        "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('sqlalchemy', 'pydantic', 'alembic', 'cryptography', 'rich')"
        " if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.splitlines()[-1] == "HEAVY="
