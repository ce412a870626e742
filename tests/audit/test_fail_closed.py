"""Fail closed: a command that must not run unaudited does not run when its record cannot be kept.

A ``danger`` command (and, in team mode, a ``write`` one) runs only once its "started" record
is durable: committed, or fsynced to the spool. A read command runs either way, with a
warning. The storage really fails here: a read-only bind mount over the state or database
directory (chmod would not stop root, and tests run as root in CI), and a small tmpfs filled
to the last byte. The commands are the real CLI and a real plugin whose danger command
leaves a marker file, so "did not run" is a fact on disk.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from logomesh.audit.query import AuditFilter
from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Outcome, RiskLevel, Source
from logomesh.engine import Engine
from tests.conftest import trust_now

ROOT = Path(__file__).resolve().parents[2]
GUARD_MANIFEST = """
name = "guard"
version = "2.0.0"
runtime = "python"
entry = "main.py"

[[contributes.commands]]
name = "guard.wipe"
summary = "A dangerous command for tests: leaves a marker file when it runs"
risk = "danger"
"""
GUARD = """
import pathlib
from logomesh_plugin import Plugin

plugin = Plugin("guard", version="2.0.0")

@plugin.tool("guard.wipe")
def wipe(args, ctx):
    pathlib.Path(__file__).with_name("wiped").write_text("it ran")
    return {"wiped": True}

plugin.run()
"""


class Mounts:
    """Mounts made by one test, undone (lazily if still busy) when it ends."""

    def __init__(self) -> None:
        self.made: list[Path] = []

    def _mount(self, *args: str) -> None:
        done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.skip(
                f"cannot mount here (`mount {' '.join(args)}`: {done.stderr.strip()}); these "
                "tests need root with CAP_SYS_ADMIN, as CI has"
            )

    def readonly(self, path: Path) -> None:
        self._mount("--bind", str(path), str(path))
        self.made.append(path)
        self._mount("-o", "remount,bind,ro", str(path))

    def tmpfs(self, path: Path, size: str) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self._mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path))
        self.made.append(path)

    def undo(self, path: Path) -> None:
        subprocess.run(["umount", str(path)], check=True)
        self.made.remove(path)

    def undo_all(self) -> None:
        for path in reversed(self.made):
            if subprocess.run(["umount", str(path)], check=False).returncode != 0:
                subprocess.run(["umount", "-l", str(path)], check=False)
        self.made.clear()


@pytest.fixture
def mounts() -> Iterator[Mounts]:
    made = Mounts()
    yield made
    made.undo_all()


Cli = Callable[..., dict[str, Any]]


@pytest.fixture
def guarded(workspace: Path, cli_env: dict[str, str]) -> Path:
    """The workspace with the guard plugin, trusted; returns the plugin's folder."""
    folder = workspace / "plugins" / "guard"
    folder.mkdir(parents=True)
    (folder / "logomesh-plugin.toml").write_text(GUARD_MANIFEST, encoding="utf-8")
    (folder / "main.py").write_text(GUARD, encoding="utf-8")
    trust_now(workspace, cli_env)
    return folder


@pytest.fixture
def run_cli(workspace: Path, cli_env: dict[str, str]) -> Cli:
    """``logomesh run COMMAND --json -y`` as a real subprocess of this worktree's code."""

    def _run(command: str, *args: str, **env: str) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-m", "logomesh", "run", command, *args, "--json", "-y"],
            cwd=workspace,
            env={**cli_env, "PYTHONPATH": str(ROOT), **env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.stdout, done.stderr
        result: dict[str, Any] = json.loads(done.stdout)
        result["exit_code"] = done.returncode
        return result

    return _run


def _refused_for_want_of_audit(result: dict[str, Any], *paths: Path) -> None:
    assert result["outcome"] == "error" and result["exit_code"] != 0, result
    error = result["error"]
    assert error["code"] == "audit.unavailable", error
    for path in paths:
        assert str(path) in error["message"], error["message"]
    assert "Free disk space" in error["message"] and "permissions" in error["message"]


@pytest.mark.sqlite_only("the database file is in the state directory only on SQLite")
def test_a_read_only_state_directory_stops_a_danger_command_not_a_read(
    workspace: Path, guarded: Path, run_cli: Cli, mounts: Mounts
) -> None:
    assert run_cli("whoami")["ok"]  # the database, its schema and the state directory exist
    state = workspace / ".logomesh"
    mounts.readonly(state)
    refused = run_cli("guard.wipe")
    _refused_for_want_of_audit(refused, state / "logomesh.db", state / "audit-spool.jsonl")
    assert not (guarded / "wiped").exists()  # the plugin's command never ran
    read = run_cli("whoami")
    assert read["ok"], read
    assert any("could not be written" in warning for warning in read["warnings"])


@pytest.mark.postgresql_only("a PostgreSQL server that is not there")
def test_an_unreachable_server_and_a_read_only_spool_stop_a_danger_command(
    tmp_path: Path, workspace: Path, guarded: Path, run_cli: Cli, mounts: Mounts
) -> None:
    """On PostgreSQL the record's first home is the server and its second the spool: with
    the server unreachable and the state directory read-only, a danger command does not
    run, and the refusal names the server, the setting and the spool."""
    assert run_cli("whoami")["ok"]  # the state directory exists
    gone = tmp_path / "no-server-here"
    gone.mkdir()
    url = {"LOGOMESH_DATABASE__URL": f"postgresql+psycopg://postgres@/logomesh?host={gone}"}
    state = workspace / ".logomesh"
    mounts.readonly(state)
    refused = run_cli("guard.wipe", **url)
    _refused_for_want_of_audit(refused, state / "audit-spool.jsonl")
    message = refused["error"]["message"]
    assert f"Cannot reach PostgreSQL at host {gone} port 5432 database logomesh" in message
    assert "LOGOMESH_DATABASE__URL" in message
    assert not (guarded / "wiped").exists()
    read = run_cli("whoami", **url)
    assert read["ok"], read
    assert any("could not be written" in warning for warning in read["warnings"])


@pytest.mark.sqlite_only("a read-only database directory; PostgreSQL down: test_pg_restart.py")
def test_a_read_only_database_spools_the_records_and_both_commands_run(
    tmp_path: Path, workspace: Path, guarded: Path, run_cli: Cli, mounts: Mounts
) -> None:
    databases = tmp_path / "databases"
    databases.mkdir()
    url = {"LOGOMESH_DATABASE__URL": f"sqlite:///{databases / 'logomesh.db'}"}
    assert run_cli("whoami", **url)["ok"]
    mounts.readonly(databases)
    spool = workspace / ".logomesh" / "audit-spool.jsonl"
    read = run_cli("whoami", **url)
    assert read["ok"], read
    assert any(f"spooled to {spool}" in w or f"kept in {spool}" in w for w in read["warnings"])
    # The spool is durable (fsynced), so a danger command may run on it.
    danger = run_cli("guard.wipe", **url)
    assert danger["ok"], danger
    assert (guarded / "wiped").exists()
    assert any("start recorded in the spool" in w for w in danger["warnings"]), danger["warnings"]
    spooled = [json.loads(line) for line in spool.read_text(encoding="utf-8").splitlines()]
    started = [e for e in spooled if e["action"] == "command.started"]
    assert [e["target"] for e in started] == ["guard.wipe"]
    assert started[0]["correlation_id"] == danger["correlation_id"]
    # Once the database is writable again, the next write chains both records in.
    mounts.undo(databases)
    assert run_cli("whoami", **url)["ok"]
    records = run_cli(
        "audit.query", f"correlation_id={danger['correlation_id']}", "limit=10", **url
    )["data"]
    assert sorted(r["outcome"] for r in records) == ["ok", "started"]
    final = next(r for r in records if r["outcome"] == "ok")
    assert final["details"]["started_record"] == "spooled"
    assert final["details"]["plugin"] == "guard" and final["details"]["risk"] == "danger"


@pytest.mark.sqlite_only("the database file is in the state directory only on SQLite")
def test_a_full_disk_stops_a_danger_command_and_a_read_still_runs(
    workspace: Path, guarded: Path, run_cli: Cli, mounts: Mounts
) -> None:
    state = workspace / ".logomesh"
    mounts.tmpfs(state, "4m")
    assert run_cli("whoami")["ok"]
    with (state / "filler").open("wb") as filler:  # fill the disk to the last block
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError:
            pass
    refused = run_cli("guard.wipe")
    _refused_for_want_of_audit(refused, state / "logomesh.db", state / "audit-spool.jsonl")
    assert not (guarded / "wiped").exists()
    read = run_cli("whoami")
    assert read["ok"], read
    assert read["warnings"], "the read command must say its record was not kept"


@pytest.mark.sqlite_only("its database file is made read-only")
def test_in_team_mode_a_write_command_needs_a_durable_record_too(
    workspace: Path, make_engine: Callable[..., Engine], owner: Actor, mounts: Mounts
) -> None:
    state = workspace / ".logomesh"
    me = {"name": owner.user_id, "roles": ["admin"], "cli": [owner.user_id]}
    team = {
        "mode": "team",
        "database": {"url": f"sqlite:///{state / 'logomesh.db'}"},
        "security": {"identities": [me]},
        "plugins": {"entry_points": False},
    }
    engine = make_engine(team)
    assert engine.settings.audit.durable_from is RiskLevel.WRITE  # the team preset
    assert run_sync(engine, CommandRequest("whoami", owner)).ok
    engine.audit_writer.close()
    mounts.readonly(state)
    engine = make_engine(team)
    made = workspace / "plugins" / "notes"
    request = CommandRequest("plugin.new", Actor(Source.CLI, owner.user_id), {"name": "notes"})
    result = run_sync(engine, request)
    assert result.outcome is Outcome.ERROR and result.error is not None
    assert result.error.code == "audit.unavailable", result.message
    assert not made.exists()
    # In local mode the same write command runs (and says its record was not kept).
    local = make_engine({"plugins": {"entry_points": False}})
    assert local.settings.audit.durable_from is RiskLevel.DANGER
    done = run_sync(local, request)
    assert done.ok and made.exists() and done.warnings


def test_a_danger_command_links_its_final_record_to_its_committed_start(
    engine: Engine, owner: Actor
) -> None:
    read = run_sync(engine, CommandRequest("whoami", owner))
    danger = run_sync(
        engine,
        CommandRequest("audit.prune", owner, {"payloads_older_than": "1d"}, confirmed=True),
    )
    assert read.ok and danger.ok and not danger.warnings, danger.message
    records = engine.audit.store.query(AuditFilter(oldest_first=True, limit=None))
    records = [r for r in records if not r.action.startswith("approval.")]  # its -y ticket
    # The read command wrote one record and no start; the danger command both, in order.
    assert [(r.action, r.outcome) for r in records] == [
        ("whoami", "ok"),
        ("command.started", "started"),
        ("audit.prune", "ok"),
    ]
    started, final = records[1], records[2]
    assert started.target == "audit.prune" and started.correlation_id == danger.correlation_id
    assert started.details["authorization"]["allowed"] is True
    assert started.details["risk"] == "danger"
    assert final.details["started_record"] == started.id
    assert "started_record" not in records[0].details
