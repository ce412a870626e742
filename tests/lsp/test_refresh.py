"""The advertised commands follow the workspace: a pipeline saved in the editor is a
command at once, registered again with the client."""

from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types

from tests.lsp.conftest import eventually

PIPELINE = """\
version: 1
name: quick
description: Look at the repository.
steps:
  - {id: status, uses: git.status}
"""


@pytest.mark.asyncio
async def test_a_saved_pipeline_becomes_a_command(start_editor, project: Path) -> None:
    editor = await start_editor("vscode")
    await eventually(editor.advertised)
    assert "logomesh.pipeline.quick" not in editor.advertised()
    (project / "pipelines").mkdir()
    path = project / "pipelines" / "quick.yaml"
    path.write_text(PIPELINE, encoding="utf-8")
    editor.client.text_document_did_save(
        types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=path.as_uri())
        )
    )
    await eventually(lambda: "logomesh.pipeline.quick" in editor.advertised())
    result = await editor.run("logomesh.pipeline.quick")
    assert result["ok"] is True
    path.write_text(PIPELINE.replace("name: quick", "name: renamed"), encoding="utf-8")
    editor.client.text_document_did_save(
        types.DidSaveTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=path.as_uri())
        )
    )
    await eventually(lambda: "logomesh.pipeline.renamed" in editor.advertised())
    assert "logomesh.pipeline.quick" not in editor.advertised()
