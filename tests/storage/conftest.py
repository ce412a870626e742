"""Storage fixtures: the real CLI, for the tests that run `logomesh db ...`."""

from tests.cli.conftest import cli, cli_env  # noqa: F401  (re-exported as fixtures)
