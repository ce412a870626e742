"""Security fixtures: the real ``logomesh`` console script, for trust decisions made by it."""

from __future__ import annotations

from tests.cli.conftest import cli, cli_env  # noqa: F401  (the real console script)
