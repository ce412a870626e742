"""The VS Code extension's figures: what its end-to-end run measured, and the ``.vsix`` size.

Activation and *Do...* are measured where they mean something, in a real VS Code with a
person's clicks: ``make e2e`` (tests/vscode/) runs code-server and writes what it saw to
``.benchmarks/vscode-e2e.json``; this module only reads that file, because starting
code-server and a browser takes minutes, not the minute a benchmark may take. Before a run
the rows say so instead of showing a figure.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.table import Row

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ROOT / ".benchmarks" / "vscode-e2e.json"
VSIX = ROOT / "vscode-extension" / "logomesh.vsix"
NOT_RUN = "not measured: run `make e2e`"
MEASURES = {
    "activation_ms": (
        "The extension's activation time as VS Code itself reports it (Developer: Show Running "
        "Extensions, 'Activation: N ms'), code-server 4.139.1 in chromium, by `make e2e`."
    ),
    "do": (
        "Wall seconds from Enter in LogoMesh: Do... ('what changed since main', a read) to the "
        "result notification on screen, in code-server, by `make e2e`: the first time loads "
        "the interpreter's models in the server, the second is warm."
    ),
    "workbench_ready_s": (
        "Wall seconds from opening http://127.0.0.1:PORT/?folder=DIR in chromium to the "
        "Workspace Trust dialog of a loaded workbench (the first window of a new code-server)."
    ),
    "vsix": "Size of vscode-extension/logomesh.vsix as `make extension` packages it.",
}


def run(quick: bool) -> list[Row]:
    figures: dict[str, Any] = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}

    def shown(key: str, unit: str) -> str:
        return f"{figures[key]} {unit}" if key in figures else NOT_RUN

    size = f"{VSIX.stat().st_size / 1024:.1f} KB" if VSIX.exists() else "not built: make extension"
    return [
        Row("VS Code: extension activation", shown("activation_ms", "ms"),
            measures=MEASURES["activation_ms"]),
        Row("VS Code: Do... to result, first", shown("do_to_result_first_s", "s"),
            measures=MEASURES["do"]),
        Row("VS Code: Do... to result, warm", shown("do_to_result_s", "s"),
            measures=MEASURES["do"]),
        Row("VS Code: workbench ready", shown("workbench_ready_s", "s"),
            measures=MEASURES["workbench_ready_s"]),
        Row("VS Code: .vsix size", size, measures=MEASURES["vsix"]),
    ]  # fmt: skip
