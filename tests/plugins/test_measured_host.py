"""A host measured by coverage.py (``make test``) starts its plugins unmeasured and unchanged.

``make test`` runs with coverage's subprocess patch: every Python child whose environment
carries ``COVERAGE_PROCESS_CONFIG`` starts coverage from a ``.pth`` file and writes a data
file beside the project's at exit. A plugin must not: the sandbox passes it no host variable
outside its allowlist, and under Landlock it could not write that file anyway (it would fail
at exit, or the sandbox would have to be widened for it). The plugin-side helper is therefore
not measured; the host side is.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import coverage
import pytest

from logomesh.engine import Engine
from tests.plugins.conftest import plugin_script, run_command

REPORT = """
    @plugin.tool("probe.report")
    def report(args, ctx):
        return {
            "measured": [name for name in os.environ if name.startswith("COVERAGE")],
            "coverage_imported": "coverage" in sys.modules,
        }
"""


def test_a_plugin_of_a_measured_host_gets_no_coverage_settings_and_runs(
    add_plugin: Callable[..., Path],
    plugin_engine: Callable[..., Engine],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data_file = tmp_path / "measured" / ".coverage"
    settings = coverage.Coverage(data_file=str(data_file), config_file=False).config
    # What coverage's subprocess patch puts in the host's environment.
    monkeypatch.setenv("COVERAGE_PROCESS_CONFIG", settings.serialize())
    add_plugin(
        "probe",
        plugin_script("probe", REPORT, head="import os, sys"),
        commands=("probe.report",),
    )
    engine = plugin_engine()

    result = run_command(engine, "probe.report")

    assert result.ok, result.message
    assert result.data == {"measured": [], "coverage_imported": False}
    engine.plugins.stop("probe")
    assert not data_file.parent.exists()  # no data file from the plugin, nowhere to write one
