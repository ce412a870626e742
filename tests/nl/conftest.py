"""One embedding model for the whole NL test session: loading it costs seconds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from logomesh.composition import build_engine
from logomesh.config import load_settings
from logomesh.engine import Engine
from logomesh.nl.embedder import Embedder

DATA = Path(__file__).resolve().parents[1] / "data" / "nl_requests.jsonl"
# Written after the threshold and bonuses were set, independently of the examples: never tuned on.
HELDOUT = DATA.with_name("nl_requests_heldout.jsonl")


@pytest.fixture(scope="session")
def shared_embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="session")
def project_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small project tree, so paths named in requests exist."""
    root = tmp_path_factory.mktemp("project")
    for name in (
        "src/app.py",
        "src/utils.py",
        "src/main.py",
        "README.md",
        "pyproject.toml",
        "setup.cfg",
        "docs/guide.md",
        "tests/unit/test_app.py",
        "tests/test_api.py",
    ):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x = 1\n")
    return root


@pytest.fixture(scope="session")
def nl_engine(
    project_workspace: Path, shared_embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    home = tmp_path_factory.mktemp("home")
    environ = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / "config")}
    settings = load_settings(project_workspace, environ=environ).settings
    engine = build_engine(settings, embedder=shared_embedder)
    yield engine
    engine.close()
