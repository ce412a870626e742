"""Audit fixtures: the CLI's environment, for the tests that run the real CLI."""

from tests.cli.conftest import cli_env  # noqa: F401  (re-exported as a fixture)
