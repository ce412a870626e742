"""Tampering with the stored trail is caught: by the chain, the payload hashes or the checkpoints.

Each test plays an attacker with write access to the database: it opens the file with a raw
SQLite connection (or a psycopg session on PostgreSQL), gets past the append-only triggers
and edits rows (tests/storage/raw_access.py). ``audit verify``
must then name what was done, and must not cry wolf over what retention does on purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from logomesh.audit.chain import record_hash
from logomesh.audit.checkpoints import CheckpointSigner
from logomesh.audit.models import AuditEntry, AuditRecord
from logomesh.commands.models import CommandResult
from logomesh.commands.values import Outcome, Source
from logomesh.engine import Engine
from logomesh.errors import StorageError
from tests.storage.raw_access import RawConnection, raw_connection, without_append_only


def _entries(count: int, **fields: Any) -> list[AuditEntry]:
    return [
        AuditEntry(
            actor=f"user{i}",
            source=Source.CLI,
            action="test.act",
            outcome=Outcome.OK,
            arguments={"n": i},
            **fields,
        )
        for i in range(1, count + 1)
    ]


def _raw(engine: Engine) -> RawConnection:
    """A raw connection to the database, as an attacker would open it."""
    return raw_connection(engine)


def _drop_triggers(engine: Engine) -> RawConnection:
    return without_append_only(engine)


def _all(engine: Engine) -> list[AuditRecord]:
    return [record for batch in engine.audit.store.iter_all() for record in batch]


@pytest.fixture
def chain(engine: Engine) -> list[AuditRecord]:
    """Ten honest records."""
    return engine.audit.store.append_many(_entries(10))


def test_untouched_chain_verifies(engine: Engine, chain: list[AuditRecord]) -> None:
    """The baseline: ten appended records verify as intact."""
    report = engine.audit.verify()
    assert report.ok, report.summary()
    assert (report.records, report.head_seq, report.head_hash) == (10, 10, chain[-1].hash)


def test_changed_field_names_that_record(
    engine: Engine, chain: list[AuditRecord], run: Callable[..., CommandResult]
) -> None:
    """(a) Editing one field of a middle record makes that record the first bad one."""
    conn = _drop_triggers(engine)
    conn.execute("UPDATE audit_records SET actor = 'mallory' WHERE seq = 5")
    conn.close()

    result = run("audit.verify")
    assert result.ok  # the command ran; the trail failed
    report = result.data
    assert report["ok"] is False
    assert report["first_bad_record"]["seq"] == 5
    assert report["first_bad_record"]["id"] == chain[4].id
    assert "content was changed" in report["first_bad_record"]["reason"]
    assert "record #5" in result.message and "FAILED" in result.message


def test_changed_arguments_json_is_caught(engine: Engine, chain: list[AuditRecord]) -> None:
    """Editing inside a JSON column (not just a plain column) breaks the hash too."""
    conn = _drop_triggers(engine)
    conn.execute("""UPDATE audit_records SET arguments = '{"n":999}' WHERE seq = 3""")
    conn.close()
    report = engine.audit.verify()
    assert report.first_break is not None and report.first_break.seq == 3


def test_deleted_middle_record_names_the_gap(engine: Engine, chain: list[AuditRecord]) -> None:
    """(b) Deleting records from the middle is reported as the missing sequence numbers."""
    conn = _drop_triggers(engine)
    conn.execute("DELETE FROM audit_records WHERE seq IN (5, 6)")
    conn.close()
    report = engine.audit.verify()
    assert not report.ok
    assert report.first_break is not None
    assert report.first_break.seq == 7
    assert "5-6 are missing" in report.first_break.reason


def test_swapped_records_are_caught(engine: Engine, chain: list[AuditRecord]) -> None:
    """(c) Exchanging the places of two records breaks the previous-hash links."""
    conn = _drop_triggers(engine)
    conn.execute("UPDATE audit_records SET seq = -1 WHERE seq = 4")
    conn.execute("UPDATE audit_records SET seq = 4 WHERE seq = 6")
    conn.execute("UPDATE audit_records SET seq = 6 WHERE seq = -1")
    conn.close()
    report = engine.audit.verify()
    assert report.first_break is not None
    assert report.first_break.seq == 4
    assert report.first_break.record_id == chain[5].id
    assert "previous-hash" in report.first_break.reason


def _rewrite_from(engine: Engine, seq: int, **changes: Any) -> None:
    """Change record ``seq`` and recompute every hash after it, as a careful attacker would."""
    records = _all(engine)
    conn = _drop_triggers(engine)
    prev = records[seq - 2].hash if seq > 1 else records[0].prev_hash
    for record in records[seq - 1 :]:
        content = {**record.hashed_content(), "prev_hash": prev}
        if record.seq == seq:
            content.update(changes)
        prev = record_hash(content)
        conn.execute(
            "UPDATE audit_records SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?",
            (content["actor"], content["prev_hash"], prev, record.seq),
        )
    conn.close()


def test_rewritten_chain_passes_the_walk_but_fails_the_checkpoint(
    engine: Engine, chain: list[AuditRecord]
) -> None:
    """(d) A chain recomputed after a signed checkpoint walks clean; the checkpoint catches it."""
    checkpoint = engine.audit.checkpoint()
    assert checkpoint.seq == 10
    _rewrite_from(engine, 3, actor="mallory")

    report = engine.audit.verify()
    assert report.first_break is None  # every hash is consistent now
    assert not report.ok
    assert report.checkpoints_checked == 1
    [problem] = report.checkpoint_problems
    assert "record #10 differs from the checkpoint" in problem
    assert "rewritten" in problem


def test_periodic_checkpoints_catch_a_rewrite_before_them(
    make_engine: Callable[..., Engine],
) -> None:
    """With ``audit.checkpoint_every`` set, a rewrite is caught without a manual checkpoint."""
    engine = make_engine({"audit": {"checkpoint_every": 4}})
    for entry in _entries(10):
        engine.audit.record(entry)
    assert [c.seq for c in engine.audit.signer.read().checkpoints] == [4, 8]
    _rewrite_from(engine, 6, actor="mallory")

    report = engine.audit.verify()
    assert report.first_break is None
    assert report.checkpoints_checked == 2
    assert len(report.checkpoint_problems) == 1
    assert "record #8 differs" in report.checkpoint_problems[0]


def test_deleted_tail_after_checkpoint_is_caught(
    make_engine: Callable[..., Engine],
) -> None:
    """(e) Cutting records off the end leaves a valid chain that no longer reaches a checkpoint."""
    engine = make_engine({"audit": {"checkpoint_every": 5}})
    engine.audit.record_many(_entries(10))  # one batch crossing 5 and 10: each is signed
    assert [c.seq for c in engine.audit.signer.read().checkpoints] == [5, 10]

    conn = _drop_triggers(engine)
    conn.execute("DELETE FROM audit_records WHERE seq >= 9")
    conn.close()
    report = engine.audit.verify()
    assert report.first_break is None
    assert report.head_seq == 8
    [problem] = report.checkpoint_problems
    assert "chain ends at #8" in problem and "vouches for #10" in problem
    assert "records #9-#10 were deleted" in problem


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_records SET actor = 'mallory' WHERE seq = 2", "DELETE FROM audit_records"],
)
def test_triggers_refuse_update_and_delete(
    engine: Engine, chain: list[AuditRecord], statement: str
) -> None:
    """(f) Without dropping the triggers, rows cannot be changed or removed, by any client."""
    conn = _raw(engine)
    with pytest.raises(Exception, match="audit_records is append-only"):
        conn.execute(statement)
    conn.close()

    with (
        pytest.raises(StorageError, match="append-only") as caught,
        engine.database.write() as sa_conn,
    ):
        sa_conn.execute(text(statement))
    assert engine.database.where in caught.value.user_message
    assert engine.audit.verify().ok
    assert engine.audit.store.count() == 10


def test_tampered_payload_is_reported(engine: Engine) -> None:
    """(g) Editing a stored output leaves the chain valid but the payload check fails."""
    records = engine.audit.store.append_many(
        [
            AuditEntry(
                actor="alice",
                source=Source.CLI,
                action="test.run",
                outcome=Outcome.OK,
                output=f"build log {i}",
                prompt=f"prompt {i}",
            )
            for i in range(3)
        ]
    )
    target = records[1]
    conn = _raw(engine)  # the payload table has no triggers to drop
    conn.execute(
        "UPDATE audit_payloads SET content = ? WHERE hash = ?",
        (b"all tests passed", target.output_hash),
    )
    conn.close()

    report = engine.audit.verify()
    assert report.first_break is None
    assert not report.ok
    assert report.payloads_tampered == [f"record #{target.seq}: its output payload was changed"]
    assert report.payloads_checked == 5
    assert "output payload was changed" in report.summary()


def test_pruned_payloads_are_not_tampering(
    engine: Engine, run: Callable[..., CommandResult]
) -> None:
    """(g) Retention pruning removes payload texts; verify stays ok and counts them as pruned."""
    for i in range(3):
        engine.audit.record(
            AuditEntry(
                actor="alice",
                source=Source.CLI,
                action="test.run",
                outcome=Outcome.OK,
                output=f"output {i}",
                response=f"response {i}",
            )
        )
    pruned = run("audit.prune", confirmed=True, payloads_older_than="0s")
    assert pruned.ok, pruned.message
    assert pruned.data["pruned_payloads"] == 6
    assert engine.audit.store.payloads([r.output_hash or "" for r in _all(engine)]) == {}

    report = engine.audit.verify()
    assert report.ok, report.summary()
    assert report.payloads_pruned == 6
    assert report.payloads_tampered == []
    assert "6 payloads pruned by retention" in report.summary()


def test_prune_keeps_payloads_of_recent_records(engine: Engine) -> None:
    """store.prune_payloads only drops texts no record newer than the cutoff refers to."""
    from datetime import UTC, datetime, timedelta

    engine.audit.record(
        AuditEntry(actor="a", source=Source.CLI, action="x", outcome=Outcome.OK, output="kept")
    )
    assert engine.audit.store.prune_payloads(datetime.now(UTC) - timedelta(hours=1)) == 0
    report = engine.audit.verify()
    assert report.ok and report.payloads_checked == 1 and report.payloads_pruned == 0


def test_forged_checkpoint_is_untrusted(
    engine: Engine, chain: list[AuditRecord], tmp_path: Path, make_engine: Callable[..., Engine]
) -> None:
    """(h) A checkpoint signed by a key LogoMesh does not trust is reported, not believed."""
    engine.audit.checkpoint()
    forger = CheckpointSigner(tmp_path / "attacker.key", engine.settings.checkpoint_path)
    forged = forger.sign(10, chain[-1].hash)

    report = engine.audit.verify()
    assert report.checkpoints_checked == 2
    [problem] = report.checkpoint_problems
    assert f"checkpoint for #10 signed {forged.signed_at}" in problem
    assert "untrusted key" in problem

    # An operator who vouches for that key (e.g. a second machine's) makes it trusted.
    trusting = make_engine({"audit": {"trusted_public_keys": [forger.public_key_hex()]}})
    assert trusting.audit.verify().ok


def test_edited_checkpoint_line_fails_its_signature(
    engine: Engine, chain: list[AuditRecord]
) -> None:
    """Moving a genuine checkpoint to another record invalidates its signature."""
    engine.audit.checkpoint()
    path = engine.settings.checkpoint_path
    path.write_text(path.read_text().replace('"seq": 10', '"seq": 9'))
    report = engine.audit.verify()
    assert not report.ok
    assert "invalid signature" in report.checkpoint_problems[0]


def test_garbled_checkpoint_line_is_reported_with_its_place(
    engine: Engine, chain: list[AuditRecord]
) -> None:
    """An unreadable checkpoint line is named by file and line, never silently skipped."""
    engine.audit.checkpoint()
    path = engine.settings.checkpoint_path
    with path.open("a") as handle:
        handle.write("{not json\n")
    report = engine.audit.verify()
    assert report.checkpoint_problems == [f"{path}:2: unreadable checkpoint line"]
