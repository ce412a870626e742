"""Issue 10 through the real CLI: a bad spool line and a deleted checkpoint file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from logomesh.storage.database import Database
from tests.cli.conftest import Run
from tests.storage.raw_access import delete_shared_checkpoints, without_append_only

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


def _tampered_trail(cli: CliFn, workspace: Path) -> int:
    """A trail of several records whose third was rewritten past the triggers; its size."""
    assert cli("init").code == 0
    for _ in range(4):
        assert cli("run", "whoami").code == 0
    database = Database(f"sqlite:///{workspace / '.logomesh' / 'logomesh.db'}")
    try:
        conn = without_append_only(database)
        try:
            conn.execute("UPDATE audit_records SET actor = 'mallory' WHERE seq = 3")
            [(total,)] = conn.execute("SELECT count(*) FROM audit_records")
        finally:
            conn.close()
    finally:
        database.dispose()
    assert total > 3
    return int(total)


def test_verify_of_a_tampered_trail_counts_the_verified_records_and_the_total(
    cli: CliFn, workspace: Path
) -> None:
    """Not `records 1` for a longer chain: records before the first bad one, and all of them."""
    total = _tampered_trail(cli, workspace)
    failed = cli("audit", "verify")
    assert failed.code == 1, failed.err
    assert "record #3 (id " in failed.out and "is the first bad one" in failed.out
    text = " ".join(failed.out.split())
    assert f"2 of {total} records verified, the ones before #3" in text
    assert "none after it can be vouched for" in text  # the table's layout is render's


def test_verify_json_of_a_tampered_trail_says_ok_false_at_the_top(
    cli: CliFn, workspace: Path
) -> None:
    """The envelope's ok and the exit code agree; data is the whole report."""
    total = _tampered_trail(cli, workspace)
    failed = cli("audit", "verify", "--json")
    assert failed.code == 1, failed.err
    envelope = failed.json()
    assert envelope["ok"] is False
    assert envelope["error"]["code"] == "audit.verify_failed"
    assert envelope["error"]["message"].startswith("Audit trail FAILED verification")
    data = envelope["data"]
    assert data["ok"] is False and data["first_bad_record"]["seq"] == 3
    assert (data["records"], data["records_verified"], data["head_seq"]) == (total, 2, total)


def test_verify_json_of_an_intact_trail_says_ok_true_and_counts_every_record(
    cli: CliFn, workspace: Path
) -> None:
    assert cli("init").code == 0
    assert cli("run", "whoami").code == 0
    verified = cli("audit", "verify", "--json")
    assert verified.code == 0, verified.out
    envelope = verified.json()
    assert envelope["ok"] is True and envelope["error"] is None
    data = envelope["data"]
    assert data["ok"] is True and data["records"] == data["records_verified"] == data["head_seq"]
    assert data["records"] >= 2
