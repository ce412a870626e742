"""The language server's start-up figure is a real initialize answer from `logomesh lsp`."""

from __future__ import annotations

import sys

from benchmarks import lsp
from benchmarks.workspace import private_workspace


def test_initialize_is_timed_to_a_real_answer() -> None:
    with private_workspace() as workspace:
        lsp._project(workspace)
        env = {**workspace.process_environ(), "HF_HUB_OFFLINE": "1"}
        ours = lsp._time_initialize([str(lsp.LOGOMESH), "lsp"], workspace, env)
        bare = lsp._time_initialize([sys.executable, "-c", lsp.BARE_SERVER], workspace, env)
    assert bare > 0 and 0 < ours < 30_000
