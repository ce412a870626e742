"""Emacs (eglot), as pytest-lsp's snapshot of Emacs 29.1 records its capabilities.

No Emacs runs here (none is installed); this checks what docs/editors.md says of eglot:
the settings its set-up sends (``:initializationOptions`` and the ``logomesh`` section of
``eglot-workspace-configuration``) apply without a warning, commands of any name run, and
a command that needs a yes is asked about although eglot declares no ``window.showMessage``
(the request is base protocol, and eglot answers it).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from lsprotocol import types
from pytest_lsp import client_capabilities

from tests.lsp.conftest import CHATTY, Editor, declare, eventually, make_client

EMACS = "emacs@v29.1"


@pytest_asyncio.fixture
async def emacs(project: Path, lsp_env: dict[str, str]) -> AsyncIterator[Editor]:
    declare(project, lsp_env, CHATTY)
    ref: list[Editor] = []
    client = make_client(ref)
    editor = Editor(client, "emacs", project, lsp_env)
    ref.append(editor)
    # The .dir-locals.el of docs/editors.md, as eglot answers workspace/configuration.
    client.set_configuration({"lintDebounceMs": 500}, section="logomesh")
    await client.start_io(sys.executable, "-m", "lsp_server", env=lsp_env, cwd=str(project))
    capabilities = client_capabilities(EMACS)
    assert capabilities.window is None or capabilities.window.show_message is None
    editor.initialized = await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities,
            root_uri=project.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=project.as_uri(), name=project.name)],
            initialization_options={"showResults": True},  # (:showResults t)
        )
    )
    yield editor
    await client.shutdown_session()
    await client.stop()


@pytest.mark.asyncio
async def test_eglot_runs_commands_and_is_asked_before_one_that_needs_a_yes(
    emacs: Editor,
) -> None:
    result = await emacs.run("logomesh.git.log", {"count": 1})
    assert result["data"]["commits"][0]["subject"] == "first"
    await eventually(lambda: "LogoMesh git.log: 1 commit." in emacs.shown())
    assert not [m for m in emacs.shown() if "is not a LogoMesh setting" in m or ": must" in m]

    answer = await emacs.run("logomesh.wipe")
    assert answer["ok"] is True and len(emacs.asked) == 1
    assert "danger" in emacs.asked[0].message
