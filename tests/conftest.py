"""Shared fixtures: every test gets its own workspace, database file and signing key."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest, CommandResult
from logomesh.commands.values import Actor, Source
from logomesh.composition import build_engine
from logomesh.config import LoadedSettings, load_settings, trust_subject
from logomesh.engine import Engine
from logomesh.trust import TRUST_FILE, TrustStore
from tests.postgres import pg_database, pg_server, pg_url  # noqa: F401  (fixtures)

# CI sets it (.ci/run): there a sandbox protection a test exercises must exist, so its
# absence fails the run instead of passing it with a skip nobody reads.
REQUIRE_SANDBOX = "LOGOMESH_REQUIRE_SANDBOX"


def require_or_skip(reason: str) -> NoReturn:
    """Skip a test whose sandbox protection this machine lacks, or fail it when
    ``LOGOMESH_REQUIRE_SANDBOX=1`` says the machine must have it."""
    if os.environ.get(REQUIRE_SANDBOX) == "1":
        pytest.fail(f"{reason}, and {REQUIRE_SANDBOX}=1 requires it", pytrace=False)
    pytest.skip(reason)


def requires(available: bool, reason: str) -> pytest.MarkDecorator:
    """A mark for a test (or ``pytestmark``) that needs a sandbox protection: nothing when
    ``available``, else :func:`require_or_skip` with ``reason`` when the test sets up."""
    return pytest.mark.requires_sandbox(available=available, reason=reason)


def pytest_runtest_setup(item: pytest.Item) -> None:
    for mark in item.iter_markers("requires_sandbox"):
        if not mark.kwargs["available"]:
            require_or_skip(mark.kwargs["reason"])


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    return ws


@pytest.fixture
def test_env(tmp_path: Path) -> dict[str, str]:
    """An environment with no LOGOMESH_* variables but one, and a private config dir.

    The one keeps every console script a test starts in its own process: a warm process
    (logomesh.cli.warm) would outlive the test; tests/cli/test_warm.py turns it on."""
    return {
        "HOME": str(tmp_path / "home"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "LOGOMESH_WARM": "0",
    }


def trust_now(workspace: Path, environ: dict[str, str]) -> None:
    """Trust ``workspace`` as it is now, in the test's own config dir, as `logomesh trust` does."""
    store = TrustStore(Path(environ["XDG_CONFIG_HOME"]) / "logomesh" / TRUST_FILE)
    store.trust(trust_subject(workspace), "test")


@pytest.fixture
def load(workspace: Path, test_env: dict[str, str]) -> Callable[..., LoadedSettings]:
    """Settings for the test workspace, trusted as it is when loaded (the plugins and
    commands a test writes are its own); tests/security/test_trust.py covers the untrusted."""

    def _load(flags: dict[str, Any] | None = None, **env: str) -> LoadedSettings:
        environ = {**test_env, **env}
        trust_now(workspace, environ)
        return load_settings(workspace, flags, environ=environ)

    return _load


@pytest.fixture
def engine(load: Callable[..., LoadedSettings]) -> Iterator[Engine]:
    loaded = load()
    eng = build_engine(loaded.settings, provenance=loaded.provenance)
    yield eng
    eng.close()


@pytest.fixture
def make_engine(load: Callable[..., LoadedSettings]) -> Iterator[Callable[..., Engine]]:
    """More engines on the same workspace, with extra flags or LOGOMESH_* variables."""
    made: list[Engine] = []

    def _make(flags: dict[str, Any] | None = None, **env: str) -> Engine:
        loaded = load(flags, **env)
        made.append(build_engine(loaded.settings, provenance=loaded.provenance))
        return made[-1]

    yield _make
    for eng in made:
        eng.close()


@pytest.fixture
def owner() -> Actor:
    return Actor(Source.CLI, getpass.getuser())


@pytest.fixture
def run(engine: Engine, owner: Actor) -> Callable[..., CommandResult]:
    """Run a command as the workspace owner through the one door."""

    def _run(command: str, confirmed: bool = False, **arguments: Any) -> CommandResult:
        return run_sync(engine, CommandRequest(command, owner, arguments, confirmed=confirmed))

    return _run
