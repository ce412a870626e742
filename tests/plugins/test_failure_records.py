"""What the audit trail keeps when a plugin command fails or its plugin crashes.

Each record of a plugin command, whatever its outcome, names the plugin and its version, the
risk and the authorisation decision; a crash is one ``plugin.failed`` record, not one from
the exit and another from whoever noticed it. Real plugins, the real SQLite trail.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from logomesh.audit.models import AuditRecord
from logomesh.audit.query import AuditFilter
from logomesh.engine import Engine
from tests.plugins.conftest import ECHO_PLUGIN, plugin_script, run_command, wait_until

AddPlugin = Callable[..., Path]
MakeEngine = Callable[..., Engine]

CRASH_MID_CALL = plugin_script(
    "fragile",
    """
    @plugin.tool("fragile.crash")
    def crash(args, ctx):
        os._exit(7)
    """,
    head="import os",
)
CRASH_AT_START = "import sys\nprint('no luck', file=sys.stderr)\nraise SystemExit(5)\n"


def _records(engine: Engine, action: str) -> list[AuditRecord]:
    engine.audit_writer.close()  # plugin records are queued, not awaited: let them land
    return engine.audit.store.query(AuditFilter(action=action, oldest_first=True))


def _names_the_plugin_command(record: AuditRecord, plugin: str, version: str) -> None:
    details = record.details
    assert details["plugin"] == plugin and details["plugin_version"] == version, details
    assert details["risk"] == "read"
    assert details["authorization"]["allowed"] is True
    assert details["authorization"]["permission"] == f"plugin.{plugin}"


def test_a_failed_plugin_command_records_plugin_version_risk_and_decision(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    add_plugin("echo", ECHO_PLUGIN, commands=("echo.say", "echo.fail"))
    engine = plugin_engine()
    failed = run_command(engine, "echo.fail")
    assert failed.error is not None and failed.error.code == "plugin.command_failed"
    [record] = _records(engine, "echo.fail")
    assert record.outcome == "error"
    _names_the_plugin_command(record, "echo", "0.1.0")


def test_a_crash_mid_call_is_one_plugin_failed_record_and_a_full_command_record(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    add_plugin("fragile", CRASH_MID_CALL, commands=("fragile.crash",))
    engine = plugin_engine(restart_backoff_s=30)  # no restart (and its records) meanwhile
    crashed = run_command(engine, "fragile.crash")
    assert crashed.error is not None and crashed.error.code == "plugin.crashed"
    wait_until(lambda: engine.plugins.plugins["fragile"].state == "failed")
    [command] = _records(engine, "fragile.crash")
    _names_the_plugin_command(command, "fragile", "0.1.0")
    [failure] = _records(engine, "plugin.failed")
    assert "exited with status 7" in (failure.error or "")
    assert failure.details["plugin"] == "fragile" and failure.details["plugin_version"] == "0.1.0"


def test_a_crash_at_start_is_one_plugin_failed_record(
    add_plugin: AddPlugin, plugin_engine: MakeEngine
) -> None:
    add_plugin("boom", CRASH_AT_START, commands=("boom.run",))
    engine = plugin_engine(restart_backoff_s=30)
    result = run_command(engine, "boom.run")
    assert result.error is not None and result.error.code == "plugin.start"
    [command] = _records(engine, "boom.run")
    _names_the_plugin_command(command, "boom", "0.1.0")
    [failure] = _records(engine, "plugin.failed")
    assert "exited with status 5" in (failure.error or "")
