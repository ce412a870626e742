"""Checkpoints shared through the database: every machine of a team checks every other's.

Two "machines" are two workspaces, each with its own state directory, checkpoint file and
signing key (its own XDG_CONFIG_HOME), on one trail: a team's PostgreSQL. Each signs the
periodic checkpoints its own writes cross, keeps them in its file and publishes them to
``audit_checkpoints``; ``audit verify`` on either takes the union. The faults (an untrusted
key, a deleted or altered row, a row the chain contradicts, a table that is gone) run on
both backends where one machine can show them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from logomesh.audit.checkpoints import CheckpointSigner
from logomesh.audit.models import AuditEntry
from logomesh.commands.values import Outcome, Source
from logomesh.composition import build_engine
from logomesh.config import load_settings
from logomesh.engine import Engine
from logomesh.storage.tables import audit_checkpoints
from tests.conftest import trust_now
from tests.storage.raw_access import delete_shared_checkpoints, raw_connection, without_append_only

EVERY = "10"
Machine = Callable[..., Engine]


def _entries(n: int, actor: str) -> list[AuditEntry]:
    return [
        AuditEntry(actor=actor, source=Source.CLI, action="test.record", outcome=Outcome.OK)
        for _ in range(n)
    ]


@pytest.fixture
def machine(tmp_path: Path, test_env: dict[str, str]) -> Iterator[Machine]:
    """``machine("a")`` builds an engine on workspace ``a`` with its own key, on the test's
    database; ``trusts`` lists other keys it accepts."""
    made: list[Engine] = []

    def _machine(name: str, *, trusts: tuple[str, ...] = ()) -> Engine:
        workspace = tmp_path / f"machine-{name}"
        workspace.mkdir(exist_ok=True)
        env = {
            **test_env,
            "HOME": str(tmp_path / f"home-{name}"),
            "XDG_CONFIG_HOME": str(tmp_path / f"config-{name}"),
            "LOGOMESH_AUDIT__CHECKPOINT_EVERY": EVERY,
            "LOGOMESH_AUDIT__CHECKPOINT_INTERVAL_S": "0",
            "LOGOMESH_AUDIT__TRUSTED_PUBLIC_KEYS": json.dumps(list(trusts)),
        }
        trust_now(workspace, env)
        made.append(build_engine(load_settings(workspace, environ=env).settings))
        return made[-1]

    yield _machine
    for engine in made:
        engine.close()


def _key(engine: Engine) -> str:
    return engine.audit.signer.public_key_hex()


def _two_machines(machine: Machine) -> tuple[Engine, Engine]:
    """A and B take turns writing 10 records: A signs #10 and #30, B #20 and #40."""
    a, b = machine("a"), machine("b")
    for writer in (a, b, a, b):
        writer.audit.record_many(_entries(10, "writer"))
    return a, b


def _trusting(machine: Machine, a: Engine, b: Engine) -> tuple[Engine, Engine]:
    """The same two machines, each now listing the other's key."""
    key_a, key_b = _key(a), _key(b)
    return machine("a", trusts=(key_b,)), machine("b", trusts=(key_a,))


@pytest.mark.postgresql_only("one trail shared by two machines: only a server can be")
def test_machines_that_trust_each_other_pass_a_plain_verify(machine: Machine) -> None:
    a, b = _trusting(machine, *_two_machines(machine))
    assert [c.seq for c in a.audit.signer.read().checkpoints] == [10, 30]
    for engine, own in ((a, [10, 30]), (b, [20, 40])):
        report = engine.audit.verify()
        assert report.ok, report.summary()
        assert report.checkpoints_missing == []
        assert report.checkpoints_from_file == 2
        assert report.checkpoints_from_database == 4
        assert report.checkpoints_checked == 4  # its own two are in both, and count once
        assert report.checkpoint_keys == sorted([_key(a), _key(b)])
        assert "2 in this machine's file, 4 in the database, signed by 2 keys" in report.summary()
        assert [c.seq for c in engine.audit.signer.read().checkpoints] == own


@pytest.mark.postgresql_only("one trail shared by two machines: only a server can be")
def test_an_untrusted_machines_checkpoints_are_reported_and_do_not_cover(
    machine: Machine,
) -> None:
    a, b = _two_machines(machine)
    report = a.audit.verify()
    assert not report.ok
    assert report.untrusted_keys == [_key(b)]
    assert report.checkpoints_missing == [20, 40]
    untrusted, coverage = report.checkpoint_problems
    assert "2 checkpoints in the database's audit_checkpoints (#20, #40)" in untrusted
    assert _key(b) in untrusted and "`audit.trusted_public_keys`" in untrusted
    assert "`logomesh audit key`" in untrusted
    assert "no signed checkpoint for #20" in coverage
    assert "list every machine's key there" in coverage
    # Trusting B's key is the fix the message names.
    assert machine("a", trusts=(_key(b),)).audit.verify().ok


@pytest.mark.postgresql_only("one trail shared by two machines: only a server can be")
def test_a_row_deleted_from_the_shared_table_is_a_missing_checkpoint(machine: Machine) -> None:
    a, b = _trusting(machine, *_two_machines(machine))
    assert delete_shared_checkpoints(a, "seq = 20") == 1

    report = a.audit.verify()
    assert not report.ok and report.checkpoints_missing == [20]
    assert "no signed checkpoint for #20 (expected one in #20-#29)" in report.summary()
    # B still holds #20 in its own file: its evidence outside the database.
    assert b.audit.verify().ok


def test_a_shared_checkpoint_the_chain_contradicts_fails_verify(
    machine: Machine, tmp_path: Path
) -> None:
    """A trusted key's signed checkpoint in the table whose hash is not the chain's (the
    chain was rewritten under it): verify fails as it does for a line of the file."""
    other = CheckpointSigner(tmp_path / "other.key", tmp_path / "other.jsonl")
    a = machine("a", trusts=(other.public_key_hex(),))
    records = a.audit.record_many(_entries(15, "alice"))
    honest = other.sign(15, records[-1].hash)
    forged = other.sign(15, "0" * 64)  # a different head at #15, signed by the same key
    assert honest.hash != forged.hash
    a.audit.shared.publish(forged)

    report = a.audit.verify()
    assert not report.ok
    [problem] = report.checkpoint_problems
    assert "record #15 differs from the checkpoint in the database's audit_checkpoints" in (problem)
    assert report.checkpoint_keys == sorted([_key(a), other.public_key_hex()])


def test_an_altered_shared_row_is_reported_as_forged(machine: Machine) -> None:
    a = machine("a")
    a.audit.record_many(_entries(10, "alice"))
    attacker = without_append_only(a)
    try:
        attacker.execute("UPDATE audit_checkpoints SET signature = ? WHERE seq = 10", ("ab" * 64,))
    finally:
        attacker.close()
    a.audit.signer.checkpoint_path.unlink()  # the file's good copy gone as well

    report = a.audit.verify()
    assert not report.ok and report.checkpoints_missing == [10]
    assert any(
        "checkpoint in the database's audit_checkpoints for #10" in problem
        and "forged or altered" in problem
        for problem in report.checkpoint_problems
    )


def test_the_shared_table_is_append_only(machine: Machine) -> None:
    a = machine("a")
    a.audit.record_many(_entries(10, "alice"))
    conn = raw_connection(a)
    try:
        for statement in (
            "UPDATE audit_checkpoints SET hash = 'x'",
            "DELETE FROM audit_checkpoints",
        ):
            with pytest.raises(Exception, match="audit_checkpoints is append-only"):
                conn.execute(statement)
        assert conn.execute("SELECT seq FROM audit_checkpoints") == [(10,)]
    finally:
        conn.close()


def test_a_failed_publish_fails_no_write_and_is_retried_at_the_next_checkpoint(
    machine: Machine, caplog: pytest.LogCaptureFixture
) -> None:
    a = machine("a")
    a.audit.record_many(_entries(5, "alice"))  # schema in place, nothing signed yet
    conn = raw_connection(a)
    try:
        conn.execute("DROP TABLE audit_checkpoints")
    finally:
        conn.close()

    with caplog.at_level(logging.WARNING, logger="logomesh.audit.shared_checkpoints"):
        records = a.audit.record_many(_entries(10, "alice"))  # crosses #10
    assert [r.seq for r in records] == list(range(6, 16))
    assert a.audit.spooled() == 0  # stored, not spooled: the write did not fail
    assert [c.seq for c in a.audit.signer.read().checkpoints] == [10]
    assert a.audit.shared.pending == 1
    assert "could not publish 1 audit checkpoint(s) to audit_checkpoints" in caplog.text

    report = a.audit.verify()
    assert not report.ok
    assert "has no audit_checkpoints table" in report.summary()
    assert "`logomesh db upgrade`" in report.summary()

    with a.database.write() as write:
        audit_checkpoints.create(write)  # the operator puts the table back
    a.audit.record_many(_entries(10, "alice"))  # crosses #20: #10 goes with it
    assert a.audit.shared.pending == 0
    assert sorted(c.seq for c in a.audit.shared.read().checkpoints) == [10, 20]


def test_a_checkpoint_in_file_and_table_counts_once(machine: Machine) -> None:
    a = machine("a")
    a.audit.record_many(_entries(20, "alice"))
    report = a.audit.verify()
    assert report.ok, report.summary()
    assert (report.checkpoints_from_file, report.checkpoints_from_database) == (2, 2)
    assert report.checkpoints_checked == 2 and report.checkpoint_keys == [_key(a)]
    # The same seq signed again (an explicit checkpoint at a quiet head) keeps the first row.
    first = a.audit.signer.read().checkpoints[-1]
    assert a.audit.checkpoint().seq == 20
    rows = {c.seq: c for c in a.audit.shared.read().checkpoints}
    assert sorted(rows) == [10, 20] and rows[20] == first
    assert a.audit.verify().checkpoints_checked in (2, 3)  # the file's second #20 may differ
