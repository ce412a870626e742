"""logomesh.do: words in the editor, interpreted by the real local models, run through the
one door. One server for both cases: loading the models is most of the test's time."""

from __future__ import annotations

import pytest

from tests.lsp.test_confirmation import records_of


@pytest.mark.asyncio
async def test_words_are_proposed_and_a_confident_read_runs(start_editor) -> None:
    editor = await start_editor("vscode")
    proposal = await editor.run(
        "logomesh.do", {"text": "what did alice do in the last 2 hours", "dry_run": True}
    )
    assert proposal["command"] == "audit.query" and proposal["decision"] == "dry_run"
    assert proposal["arguments"] == {"actor": "alice", "since": "2h"}
    assert proposal["result"] is None
    answer = await editor.run("logomesh.do", {"text": "who am i"})
    assert answer["command"] == "whoami" and answer["decision"] == "run"
    assert answer["result"]["ok"] is True and "You are" in answer["result"]["message"]
    assert any("whoami" in m for m in editor.shown())
    assert not editor.asked  # read risk, proposed with confidence: no question
    records = records_of(editor.workspace, editor.env, "nl.interpret")
    assert len(records) == 2 and {r["source"] for r in records} == {"lsp"}
