"""Audit fixtures: every engine-level audit test runs on SQLite and on PostgreSQL.

A team points ``database.url`` at PostgreSQL and expects the same trail: the same chain,
the same tamper evidence, the same spool. So ``test_env`` (which every engine, CLI and
settings fixture builds on) is parametrised over both backends; on PostgreSQL it adds
``LOGOMESH_DATABASE__URL`` for a new, empty database of the session's server
(tests/postgres.py). Tests about SQLite's own machinery (its file, its WAL) carry
``@pytest.mark.sqlite_only("why")`` and run once; tests of a PostgreSQL fault carry
``postgresql_only``. The CLI's environment and the session's warm embedding model are
re-exported as fixtures for the tests that need them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.audit.semantic_data import shared_embedder  # noqa: F401  (re-exported as a fixture)
from tests.cli.conftest import cli_env  # noqa: F401  (re-exported as a fixture)

BACKENDS = ("sqlite", "postgresql")

# Whole modules that stay on SQLite, and why.
SQLITE_ONLY_MODULES = {
    # fsyncs of SQLite's WAL and main file; PostgreSQL commits durably by itself
    # (synchronous_commit = on) and Database.make_durable does nothing there.
    "test_durability": "SQLite's WAL and file fsyncs",
    # Search on PostgreSQL ranks in SQL, not in the in-memory index these exercise; it has
    # its own module (test_semantic_search_pg.py), which reads the same trail.
    "test_semantic_search": "the in-memory index; PostgreSQL's is test_semantic_search_pg",
    "test_vector_model": "the in-memory index; PostgreSQL's is test_semantic_search_pg",
    # Picks each engine's database itself (pg_url, or the default SQLite file to compare).
    "test_semantic_search_pg": "its engines name their own database",
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only(reason): a test of SQLite's own machinery, run on SQLite only"
    )
    config.addinivalue_line(
        "markers", "postgresql_only(reason): a test of a PostgreSQL fault, run there only"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    marked = metafunc.definition.get_closest_marker
    if module in SQLITE_ONLY_MODULES or marked("sqlite_only"):
        backends: tuple[str, ...] = ("sqlite",)
    elif marked("postgresql_only"):
        backends = ("postgresql",)
    else:
        backends = BACKENDS
    metafunc.parametrize("backend", backends, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """``"sqlite"`` or ``"postgresql"``: the store this test's engines use."""
    return str(request.param)


@pytest.fixture
def test_env(tmp_path: Path, backend: str, request: pytest.FixtureRequest) -> dict[str, str]:
    """tests/conftest.py's environment, plus the PostgreSQL URL on that backend."""
    env = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    if backend == "postgresql":
        env["LOGOMESH_DATABASE__URL"] = request.getfixturevalue("pg_url")
    return env
