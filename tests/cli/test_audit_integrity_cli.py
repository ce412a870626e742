"""Issue 10 through the real CLI: a bad spool line and a deleted checkpoint file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from logomesh.storage.database import Database
from tests.cli.conftest import Run
from tests.storage.raw_access import delete_shared_checkpoints

CliFn = Callable[..., Run]


def test_a_bad_spool_line_does_not_turn_auditing_off(cli: CliFn, workspace: Path) -> None:
    """The issue's reproduction: `not json{` in the spool, then `run whoami` twice."""
    assert cli("init").code == 0
    spool = workspace / ".logomesh" / "audit-spool.jsonl"
    spool.write_text("not json{\n")

    for _ in range(2):
        result = cli("run", "whoami", "--json")
        assert result.code == 0, result.err
        assert result.json()["warnings"] == []

    records = cli("audit", "query", "--json", "--limit", "100").json()["data"]
    actions = [r["action"] for r in reversed(records)]
    assert actions[-3:] == ["audit.spool_quarantined", "whoami", "whoami"]
    assert spool.read_text() == ""
    quarantine = workspace / ".logomesh" / "audit-spool.quarantine.jsonl"
    assert quarantine.read_text() == "not json{\n"
    verify = cli("audit", "verify")
    assert verify.code == 0, verify.out
    assert str(quarantine) in verify.out


def test_verify_fails_when_the_checkpoint_file_is_deleted(cli: CliFn, workspace: Path) -> None:
    """Deleting the checkpoint file and the database's copies must not pass;
    --allow-missing-checkpoints accepts it."""
    env = {"LOGOMESH_AUDIT__CHECKPOINT_EVERY": "2"}
    assert cli("init", env=env).code == 0
    for _ in range(3):
        assert cli("run", "whoami", env=env).code == 0
    assert cli("audit", "verify", env=env).code == 0
    (workspace / ".logomesh" / "audit-checkpoints.jsonl").unlink()
    assert cli("audit", "verify", env=env).code == 0  # the database's copies still vouch
    database = Database(f"sqlite:///{workspace / '.logomesh' / 'logomesh.db'}")
    try:
        assert delete_shared_checkpoints(database) >= 2
    finally:
        database.dispose()

    failed = cli("audit", "verify", env=env)
    assert failed.code == 1
    assert "FAILED" in failed.out and "no signed checkpoint" in failed.out
    assert "#2" in failed.out and "--allow-missing-checkpoints" in failed.out

    allowed = cli("audit", "verify", "--allow-missing-checkpoints", "--json", env=env)
    assert allowed.code == 0, allowed.out
    data = allowed.json()["data"]
    assert data["ok"] is True and data["checkpoints_missing"][:2] == [2, 4]
