"""The VS Code rows of the benchmark table come from what `make e2e` measured, never a guess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import vscode_extension


def test_rows_show_the_end_to_end_run_figures_and_the_vsix_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figures = tmp_path / "vscode-e2e.json"
    figures.write_text(json.dumps({"activation_ms": 123, "do_to_result_s": 1.5}))
    vsix = tmp_path / "logomesh.vsix"
    vsix.write_bytes(b"x" * 2048)
    monkeypatch.setattr(vscode_extension, "FIGURES", figures)
    monkeypatch.setattr(vscode_extension, "VSIX", vsix)
    rows = {row.metric: row.measured for row in vscode_extension.run(quick=True)}
    assert rows["VS Code: extension activation"] == "123 ms"
    assert rows["VS Code: Do... to result, warm"] == "1.5 s"
    assert rows["VS Code: Do... to result, first"] == vscode_extension.NOT_RUN
    assert rows["VS Code: .vsix size"] == "2.0 KB"


def test_before_a_run_the_rows_say_how_to_measure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(vscode_extension, "FIGURES", tmp_path / "missing.json")
    monkeypatch.setattr(vscode_extension, "VSIX", tmp_path / "missing.vsix")
    rows = vscode_extension.run(quick=True)
    assert all(not row.error for row in rows)
    assert {row.measured for row in rows} == {vscode_extension.NOT_RUN, "not built: make extension"}
