"""``textDocument/codeAction`` of the language server: how long the list takes, warm.

The real server (``python -m lsp_server``) runs over stdio, driven by pygls' own client from
this process; a Python file with a selection and one diagnostic is open, a test file for it
exists, and the folder's engine is built. Each sample is one request's round trip: the
client's send to its parsed answer (about six actions, none of which calls a model).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from lsprotocol import types
from pygls.lsp.client import LanguageClient

from benchmarks.table import Row
from benchmarks.timing import percentile
from benchmarks.workspace import private_workspace, trust

P95_TARGET_MS = 50.0
MEASURES = (
    "Round trip of one `textDocument/codeAction` (a selection and one diagnostic in a "
    "Python file that has a test file) from pygls' client to the real server over stdio, "
    "after the folder's engine is built; the list never calls a model."
)
SOURCE = "def add(a, b):\n    return a + c\n"


def run(quick: bool) -> list[Row]:
    samples = asyncio.run(_measure(30 if quick else 300))
    p50, p95 = percentile(samples, 0.5), percentile(samples, 0.95)
    return [
        Row("codeAction list p50", f"{p50:.1f} ms", measures=MEASURES),
        Row(
            "codeAction list p95",
            f"{p95:.1f} ms",
            f"< {P95_TARGET_MS:g} ms",
            p95 < P95_TARGET_MS,
            measures=MEASURES,
        ),
    ]


async def _measure(count: int) -> list[float]:
    with private_workspace() as workspace:
        calc = workspace.root / "calc.py"
        calc.write_text(SOURCE, encoding="utf-8")
        (workspace.root / "tests").mkdir()
        (workspace.root / "tests" / "test_calc.py").write_text("", encoding="utf-8")
        trust(workspace)
        keep = {k: v for k, v in os.environ.items() if not k.startswith("LOGOMESH_")}
        client = LanguageClient("bench", "1")
        await client.start_io(
            sys.executable, "-m", "lsp_server", env={**keep, **workspace.environ},
            cwd=str(workspace.root),
        )  # fmt: skip
        try:
            await client.initialize_async(
                types.InitializeParams(
                    capabilities=types.ClientCapabilities(),
                    root_uri=workspace.root.as_uri(),
                )
            )
            client.initialized(types.InitializedParams())
            item = types.TextDocumentItem(calc.as_uri(), "python", 1, SOURCE)
            client.text_document_did_open(types.DidOpenTextDocumentParams(item))
            # The first command waits for the folder's engine: after it, the engine is built.
            await client.workspace_execute_command_async(
                types.ExecuteCommandParams("logomesh.commands", [{}])
            )
            return [await _one(client, calc.as_uri()) for _ in range(count)]
        finally:
            await client.shutdown_async(None)
            client.exit(None)
            await client.stop()


async def _one(client: LanguageClient, uri: str) -> float:
    at = types.Range(types.Position(0, 0), types.Position(1, 16))
    diagnostic = types.Diagnostic(types.Range(types.Position(1, 15), types.Position(1, 16)),
                                  "F821 undefined name 'c'")  # fmt: skip
    params = types.CodeActionParams(
        types.TextDocumentIdentifier(uri), at, types.CodeActionContext([diagnostic])
    )
    started = time.perf_counter()
    listed = await client.text_document_code_action_async(params)
    took = (time.perf_counter() - started) * 1000
    if not listed:
        raise RuntimeError("the server listed no code actions")
    return took
