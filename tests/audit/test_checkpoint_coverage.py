"""Checkpoints a chain must have, and the interval that signs a quiet trail (issue 10, item 3).

The rule ``audit verify`` applies: for every multiple M of ``audit.checkpoint_every`` up to the
chain head there is a valid checkpoint at a seq in [M, M + checkpoint_every). Checkpoints made
on demand or by ``audit.checkpoint_interval_s`` come on top and never replace one.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from logomesh.audit.models import AuditEntry
from logomesh.audit.trail import AuditTrail
from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Outcome, Source
from logomesh.engine import Engine
from tests.storage.raw_access import delete_shared_checkpoints


def _entries(n: int, action: str = "test.record") -> list[AuditEntry]:
    return [
        AuditEntry(actor="alice", source=Source.CLI, action=action, outcome=Outcome.OK)
        for _ in range(n)
    ]


def _seqs(trail: AuditTrail) -> list[int]:
    return [c.seq for c in trail.signer.read().checkpoints]


def test_a_deleted_checkpoint_file_fails_verification(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine(LOGOMESH_AUDIT__CHECKPOINT_EVERY="10")
    trail = engine.audit
    trail.record_many(_entries(25))
    assert _seqs(trail) == [10, 20]
    assert trail.verify().ok
    trail.signer.checkpoint_path.unlink()
    assert trail.verify().ok  # the database's copies still vouch for #10 and #20
    assert delete_shared_checkpoints(engine) == 2

    report = trail.verify()

    assert not report.ok
    assert report.checkpoints_missing == [10, 20]
    [problem] = report.checkpoint_problems
    assert "no signed checkpoint for #10 (expected one in #10-#19), #20 (#20-#29)" in problem
    assert str(trail.signer.checkpoint_path) in problem
    assert "--allow-missing-checkpoints" in problem


def test_a_truncated_checkpoint_file_names_the_gap(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine(LOGOMESH_AUDIT__CHECKPOINT_EVERY="10")
    trail = engine.audit
    for _ in range(4):
        trail.record_many(_entries(10))
    path = trail.signer.checkpoint_path
    lines = path.read_text().splitlines(keepends=True)
    assert len(lines) == 4
    path.write_text("".join(lines[:2]))  # the newest two lines cut away
    delete_shared_checkpoints(engine, "seq >= 30")  # and their rows in the database

    report = trail.verify()

    assert not report.ok
    assert report.checkpoints_missing == [30, 40]
    assert "#30" in report.summary() and "#40" in report.summary()
    allowed = trail.verify(allow_missing_checkpoints=True)
    assert allowed.ok and allowed.checkpoints_missing == [30, 40]
    assert "2 expected checkpoints missing, allowed" in allowed.summary()


def test_a_batch_larger_than_the_interval_signs_every_multiple(
    make_engine: Callable[..., Engine],
) -> None:
    """One commit of 35 records crosses #10, #20 and #30: each gets its checkpoint."""
    engine = make_engine(LOGOMESH_AUDIT__CHECKPOINT_EVERY="10")
    trail = engine.audit
    records = trail.record_many(_entries(35))
    checkpoints = trail.signer.read().checkpoints
    assert [c.seq for c in checkpoints] == [10, 20, 30]
    assert [c.hash for c in checkpoints] == [records[i - 1].hash for i in (10, 20, 30)]
    assert trail.verify().ok


def test_checkpoints_made_on_demand_do_not_replace_the_periodic_ones(
    make_engine: Callable[..., Engine],
) -> None:
    engine = make_engine(LOGOMESH_AUDIT__CHECKPOINT_EVERY="10")
    trail = engine.audit
    trail.record_many(_entries(5))
    trail.checkpoint()  # at #5
    trail.record_many(_entries(10))  # crosses #10, signed at #10
    lines = trail.signer.checkpoint_path.read_text().splitlines(keepends=True)
    assert _seqs(trail) == [5, 10]
    trail.signer.checkpoint_path.write_text(lines[0])
    delete_shared_checkpoints(engine, "seq = 10")
    report = trail.verify()
    assert not report.ok and report.checkpoints_missing == [10]


def test_checkpoint_every_zero_expects_none(make_engine: Callable[..., Engine]) -> None:
    engine = make_engine(
        LOGOMESH_AUDIT__CHECKPOINT_EVERY="0", LOGOMESH_AUDIT__CHECKPOINT_INTERVAL_S="0"
    )
    engine.audit.record_many(_entries(30))
    report = engine.audit.verify()
    assert report.ok and report.checkpoints_missing == [] and _seqs(engine.audit) == []


def test_the_verify_command_takes_allow_missing_checkpoints(
    make_engine: Callable[..., Engine], owner: Actor
) -> None:
    engine = make_engine(LOGOMESH_AUDIT__CHECKPOINT_EVERY="3")
    engine.audit.record_many(_entries(7))
    engine.audit.signer.checkpoint_path.unlink()
    delete_shared_checkpoints(engine)

    strict = run_sync(engine, CommandRequest("audit.verify", owner, {}))
    assert strict.ok and strict.data["ok"] is False
    assert strict.data["checkpoints_missing"] == [3, 6]
    lenient = run_sync(
        engine, CommandRequest("audit.verify", owner, {"allow_missing_checkpoints": True})
    )
    assert lenient.data["ok"] is True, lenient.message


def test_a_write_after_a_quiet_interval_signs_the_head(make_engine: Callable[..., Engine]) -> None:
    """The newest checkpoint is older than the interval and records came since: sign."""
    engine = make_engine(
        LOGOMESH_AUDIT__CHECKPOINT_EVERY="1000", LOGOMESH_AUDIT__CHECKPOINT_INTERVAL_S="0.5"
    )
    trail = engine.audit
    trail.record_many(_entries(2))
    assert _seqs(trail) == []  # the first record is younger than the interval
    time.sleep(0.6)
    trail.record_many(_entries(1))
    assert _seqs(trail) == [3]
    trail.record_many(_entries(1))  # the checkpoint is fresh again
    assert _seqs(trail) == [3]
    assert trail.verify().ok


def test_the_writer_thread_signs_a_quiet_trail_without_another_write(
    make_engine: Callable[..., Engine],
) -> None:
    """A long-lived engine: one record, then silence; its writer signs it in bounded time."""
    engine = make_engine(
        LOGOMESH_AUDIT__CHECKPOINT_EVERY="1000", LOGOMESH_AUDIT__CHECKPOINT_INTERVAL_S="0.5"
    )
    trail = engine.audit
    [record] = _entries(1)
    stored = engine.audit_writer.record_sync(record)
    assert _seqs(trail) == []
    deadline = time.monotonic() + 5
    while not _seqs(trail) and time.monotonic() < deadline:
        time.sleep(0.05)
    [checkpoint] = trail.signer.read().checkpoints
    assert (checkpoint.seq, checkpoint.hash) == (stored.seq, stored.hash)
    time.sleep(1.2)  # nothing new: no further checkpoint
    assert _seqs(trail) == [stored.seq]
