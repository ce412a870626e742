"""A pipeline is reached by natural language with no code of its own: its command's
examples ("run the ci pipeline") are what the interpreter matches (the real embedder)."""

from __future__ import annotations

import asyncio
import getpass
from pathlib import Path

import pytest

from logomesh.commands.values import Actor, Source
from logomesh.composition import build_engine
from logomesh.config import load_settings
from logomesh.nl.embedder import Embedder
from logomesh.nl.flow import execute_text


@pytest.mark.parametrize("text", ["run the ci pipeline", "start the ci pipeline"])
def test_run_the_ci_pipeline_proposes_pipeline_ci(
    tmp_path: Path, shared_embedder: Embedder, text: str
) -> None:
    workspace = tmp_path / "ws"
    (workspace / "pipelines").mkdir(parents=True)
    (workspace / "pipelines" / "ci.yaml").write_text(
        "version: 1\nname: ci\ndescription: Lint and tests.\nsteps:\n"
        "  - {id: status, uses: git.status}\n"
    )
    environ = {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    engine = build_engine(load_settings(workspace, environ=environ).settings,
                          embedder=shared_embedder)  # fmt: skip
    try:
        actor = Actor(Source.CLI, getpass.getuser())
        outcome = asyncio.run(execute_text(engine, text, actor, None, dry_run=True))
    finally:
        engine.close()
    assert outcome.interpretation.ok
    assert outcome.interpretation.data["command"] == "pipeline.ci"
