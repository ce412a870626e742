"""Audit fixtures: the CLI's environment, for the tests that run the real CLI, and the
session's warm embedding model, for the semantic search tests."""

from tests.audit.semantic_data import shared_embedder  # noqa: F401  (re-exported as a fixture)
from tests.cli.conftest import cli_env  # noqa: F401  (re-exported as a fixture)
