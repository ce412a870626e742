"""A throw-away LogoMesh workspace with a private home, and engines opened on it.

Benchmarks must not touch the real user's config, signing key or database, and they must
measure the engine as a user gets it: settings from :func:`load_settings`, a migrated SQLite
file on disk, the signing key under ``XDG_CONFIG_HOME``. Processes that share one workspace
(the concurrent-writer benchmark) rebuild the same engine from the path and environment alone.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logomesh.audit.models import AuditEntry
from logomesh.commands.registry import CommandRegistry
from logomesh.commands.values import Outcome, Source
from logomesh.composition import build_engine
from logomesh.config import load_settings, trust_subject
from logomesh.engine import Engine
from logomesh.trust import TRUST_FILE, TrustStore


@dataclass(frozen=True)
class Workspace:
    root: Path
    environ: dict[str, str]

    def process_environ(self) -> dict[str, str]:
        """The environment for a child process: ours, minus LogoMesh settings, private home."""
        inherited = {k: v for k, v in os.environ.items() if not k.upper().startswith("LOGOMESH_")}
        return {**inherited, **self.environ}


@contextmanager
def private_workspace() -> Iterator[Workspace]:
    with tempfile.TemporaryDirectory(prefix="logomesh-bench-") as tmp:
        root = Path(tmp) / "workspace"
        home = Path(tmp) / "home"
        root.mkdir()
        home.mkdir()
        environ = {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
        yield Workspace(root, environ)


def trust(workspace: Workspace) -> None:
    """Trust the workspace as it is now (after the benchmark wrote its files)."""
    store = TrustStore(Path(workspace.environ["XDG_CONFIG_HOME"]) / "logomesh" / TRUST_FILE)
    store.trust(trust_subject(workspace.root), "bench")


def open_engine(workspace: Workspace, registry: CommandRegistry | None = None) -> Engine:
    """An engine on ``workspace`` with its schema migrated, so timings exclude migration.

    The benchmark wrote the workspace's plugins and commands itself, so it trusts it first,
    as its user would with ``logomesh trust``."""
    trust(workspace)
    loaded = load_settings(workspace.root, environ=workspace.environ)
    engine = build_engine(loaded.settings, registry=registry, provenance=loaded.provenance)
    engine.ensure_schema()
    return engine


def sample_entry(number: int, actor: str = "bench") -> AuditEntry:
    """An entry shaped like the ones ``Engine.execute`` writes for a read command."""
    return AuditEntry(
        actor=actor,
        source=Source.CLI,
        action="audit.search",
        outcome=Outcome.OK,
        arguments={"query": f"deploy failure {number}", "limit": 20, "since": None},
        duration_ms=1.25,
        details={
            "risk": "read",
            "authorization": {
                "allowed": True,
                "reason": "role 'owner' grants '*'",
                "permission": "audit.read",
                "role": "owner",
            },
        },
    )


@contextmanager
def bot_engine(workspace: Workspace, flags: dict[str, Any]) -> Iterator[Engine]:
    """A chat bot's engine on ``workspace`` (trusted) with ``flags``, its schema made."""
    trust(workspace)
    loaded = load_settings(workspace.root, flags, environ=workspace.environ)
    engine = build_engine(loaded.settings, provenance=loaded.provenance)
    engine.ensure_schema()
    try:
        yield engine
    finally:
        engine.close()
