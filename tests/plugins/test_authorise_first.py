"""A plugin command is authorised from its manifest before anything of the plugin runs.

The plugins here leave a marker file the moment their program starts, so "never started" is
a fact on disk, not an inference; the CLI case runs the real console script as a user with
no roles, the way the attack was reported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from logomesh.audit.query import AuditFilter
from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Outcome, Source
from logomesh.engine import Engine
from tests.conftest import trust_now
from tests.plugins.conftest import plugin_script

AddPlugin = Callable[..., Path]
MakeEngine = Callable[..., Engine]
OWNED_BY_ROOT = {"plugins": {"entry_points": False}, "security": {"owner": "root"}}
ROOT = Path(__file__).resolve().parents[2]

# Writes "started" beside itself before it even imports the helper, and says so on stderr.
MARKED = plugin_script(
    "marked",
    """
    @plugin.tool("marked.run")
    def run(args, ctx):
        return {"ran": True}
    """,
    head="""
    import pathlib, sys
    pathlib.Path(__file__).with_name("started").write_text("yes")
    print("marked: internal start-up detail", file=sys.stderr, flush=True)
    """,
)
# Crashes at start after printing to stderr: an unauthorised caller must not see this.
CRASHES_AT_START = """
import pathlib, sys
pathlib.Path(__file__).with_name("started").write_text("yes")
print("startup-secret-path=/srv/internal", file=sys.stderr, flush=True)
raise SystemExit(5)
"""
MALLORY = Actor(Source.CLI, "mallory")


def test_a_denied_plugin_command_never_starts_its_plugin(
    add_plugin: AddPlugin, make_engine: MakeEngine
) -> None:
    folder = add_plugin("marked", MARKED, commands=("marked.run",))
    engine = make_engine(OWNED_BY_ROOT)
    result = run_sync(engine, CommandRequest("marked.run", MALLORY, {}))
    assert result.outcome is Outcome.DENIED, result.message
    assert not (folder / "started").exists()  # no process was ever launched
    assert engine.plugins.plugins["marked"].process is None
    [record] = engine.audit.store.query(AuditFilter(action="marked.run"))
    assert record.outcome == "denied"
    decision = record.details["authorization"]
    assert decision["allowed"] is False and decision["permission"] == "plugin.marked"
    assert record.details["risk"] == "read"
    assert record.details["plugin"] == "marked" and record.details["plugin_version"] == "0.1.0"


def test_an_allowed_caller_still_starts_it_and_the_tool_runs(
    add_plugin: AddPlugin, plugin_engine: MakeEngine, owner: Actor
) -> None:
    folder = add_plugin("marked", MARKED, commands=("marked.run",))
    engine = plugin_engine()
    result = run_sync(engine, CommandRequest("marked.run", owner, {}))
    assert result.ok, result.message
    assert (folder / "started").exists()


def test_a_plugin_that_fails_at_start_is_denied_not_an_error_for_a_user_without_roles(
    add_plugin: AddPlugin, make_engine: MakeEngine
) -> None:
    folder = add_plugin("boom", CRASHES_AT_START, commands=("boom.run",))
    engine = make_engine(OWNED_BY_ROOT)
    result = run_sync(engine, CommandRequest("boom.run", MALLORY, {}))
    assert result.outcome is Outcome.DENIED
    assert "startup-secret-path" not in result.message
    assert not (folder / "started").exists()
    [record] = engine.audit.store.query(AuditFilter(action="boom.run"))
    assert record.outcome == "denied" and "startup-secret-path" not in (record.error or "")


def test_the_cli_as_a_user_with_no_roles_is_denied_before_the_plugin_starts(
    add_plugin: AddPlugin, workspace: Path, cli_env: dict[str, str]
) -> None:
    folder = add_plugin("boom", CRASHES_AT_START, commands=("boom.run",))
    trust_now(workspace, cli_env)
    env = {
        **cli_env,
        "PYTHONPATH": str(ROOT),
        "LOGOMESH_SECURITY__OWNER": "root",
        "USER": "mallory",
        "LOGNAME": "mallory",
    }
    run = subprocess.run(
        [sys.executable, "-m", "logomesh", "run", "boom.run", "--json"],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0
    assert "startup-secret-path" not in run.stdout + run.stderr
    assert json.loads(run.stdout)["outcome"] == "denied"
    assert not (folder / "started").exists()
    owner_env = {k: v for k, v in env.items() if not k.startswith("LOGOMESH_SECURITY")}
    owner_env["USER"] = owner_env["LOGNAME"] = os.environ.get("USER", "root")
    query = subprocess.run(
        [sys.executable, "-m", "logomesh", "audit", "query", "--action", "boom.run", "--json"],
        cwd=workspace,
        env=owner_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    [record] = json.loads(query.stdout)["data"]
    assert record["outcome"] == "denied"
    assert record["details"]["authorization"]["allowed"] is False
