"""Configuration mistakes as the console script reports them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.cli.conftest import Run


def test_the_cli_shows_the_missing_bracket_and_exits_with_a_usage_error(
    workspace: Path, cli: Callable[..., Run]
) -> None:
    """The issue's case: `[audit` in a logomesh.toml that `init` wrote."""
    assert cli("init").code == 0
    path = workspace / "logomesh.toml"
    path.write_text(path.read_text() + "\n[audit\n")
    status = cli("status")
    assert status.code == 2, status.err
    message = " ".join(status.err.split())
    assert f"{path}, line 20, column 7: not valid TOML: " in message
    assert "the table header `[audit` is missing `]` (write `[audit]`)" in message
