"""Approval fixtures: a danger command that proves whether it ran, and real other processes.

Other processes are real: ``python -m logomesh ...`` (the CLI) or ``python -c ...`` with this
checkout first on ``PYTHONPATH``, on the same workspace and SQLite file, with the same
private user config (where identities and roles live: a workspace file may not set them).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from logomesh.audit.models import AuditRecord
from logomesh.audit.query import AuditFilter
from logomesh.commands.models import (
    CommandContext,
    CommandOutput,
    CommandRequest,
    CommandResult,
    Confirmer,
)
from logomesh.commands.registry import command
from logomesh.commands.values import RiskLevel
from logomesh.composition import build_engine
from logomesh.config import load_settings
from logomesh.engine import Engine
from logomesh.events import ApprovalRequested
from tests.cli.conftest import Run

ROOT = Path(__file__).resolve().parents[2]
RAN_FILE = "guarded-ran.txt"


class GuardedArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = "go"
    token: str | None = None


@command(
    "test.guarded", summary="A danger command", permission="test.guarded", risk=RiskLevel.DANGER
)
async def guarded(ctx: CommandContext, args: GuardedArgs) -> CommandOutput:
    path = ctx.engine.settings.workspace / RAN_FILE
    with path.open("a", encoding="utf-8") as handle:
        handle.write(args.note + "\n")
    return CommandOutput(data={"note": args.note}, message="ran")


def trail(engine: Engine, correlation_id: str) -> list[AuditRecord]:
    """Every audit record under one correlation id, oldest first."""
    where = AuditFilter(correlation_id=correlation_id, oldest_first=True)
    return engine.audit.store.query(where)


def actions(engine: Engine, correlation_id: str) -> list[str]:
    return [record.action for record in trail(engine, correlation_id)]


def ran(engine: Engine) -> list[str]:
    path = engine.settings.workspace / RAN_FILE
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


# A finished process: exit code, stdout, stderr (the CLI tests' type).
Proc = Run


@pytest.fixture
def user_config(test_env: dict[str, str]) -> Callable[[str], None]:
    """Write the private user's config.toml (security settings belong there)."""

    def _write(text: str) -> None:
        path = Path(test_env["XDG_CONFIG_HOME"]) / "logomesh" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    return _write


@pytest.fixture
def proc_env(test_env: dict[str, str]) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith("LOGOMESH_")}
    return {**keep, **test_env, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "NO_COLOR": "1"}


@pytest.fixture
def logomesh_cli(workspace: Path, proc_env: dict[str, str]) -> Callable[..., Proc]:
    """``python -m logomesh ARGS`` in another process, as OS user ``user`` if given."""

    def _cli(*args: str, user: str | None = None) -> Proc:
        import subprocess

        env = {**proc_env, **({"LOGNAME": user, "USER": user} if user else {})}
        done = subprocess.run(
            [sys.executable, "-m", "logomesh", *args],
            cwd=workspace, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        return Proc(done.returncode, done.stdout, done.stderr)

    return _cli


@pytest.fixture
def guarded_engine(workspace: Path, test_env: dict[str, str]) -> Iterator[Callable[..., Engine]]:
    """Engines (built after the user config is written) that know ``test.guarded``."""
    made: list[Engine] = []

    def _make(flags: dict[str, Any] | None = None) -> Engine:
        loaded = load_settings(workspace, flags, environ=test_env)
        engine = build_engine(loaded.settings, provenance=loaded.provenance)
        engine.registry.register(guarded)
        made.append(engine)
        return engine

    yield _make
    for engine in made:
        engine.close()


async def run_while(
    engine: Engine,
    request: CommandRequest,
    other: Callable[[str], Any],
    confirmer: Confirmer | None = None,
) -> tuple[CommandResult, Any]:
    """Execute ``request``; once its ticket opens, await ``other(ticket_id)`` beside it."""
    opened: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    def on_open(event: ApprovalRequested) -> None:
        if not opened.done():
            opened.set_result(event.ticket_id)

    unsubscribe = engine.events.subscribe(ApprovalRequested, on_open)
    try:
        task = asyncio.create_task(engine.execute(request, confirmer))
        ticket_id = await asyncio.wait_for(opened, 30)
        answer = await other(ticket_id)
        result = await asyncio.wait_for(task, 60)
    finally:
        unsubscribe()
    return result, answer


async def cli_async(
    workspace: Path, env: dict[str, str], *args: str, user: str | None = None
) -> Proc:
    """``python -m logomesh ARGS`` in another process, awaited without blocking the loop."""
    extra = {"LOGNAME": user, "USER": user} if user else {}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "logomesh", *args,
        cwd=workspace, env={**env, **extra},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 120)
    return Proc(process.returncode or 0, out.decode(), err.decode())
