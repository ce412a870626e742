"""Several OS processes appending to one trail still form one valid chain.

Each writer is a separate Python process with its own engine, as separate CLI runs, an editor
server and a bot would be. They start together on a database none of them has created yet,
so the first-use migration races as well. On SQLite the file's write lock orders them; on
PostgreSQL the advisory lock every writer takes (Database.write), as it would for writers on
many machines, and there the issue's figure holds: 8 processes x 2,000 records.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import pytest

from logomesh.audit.checkpoints import CheckpointSigner
from logomesh.composition import build_engine
from logomesh.config import LoadedSettings, load_settings
from logomesh.engine import Engine
from tests.conftest import trust_now

pytestmark = pytest.mark.slow

WRITERS = {"sqlite": 4, "postgresql": 8}
# PostgreSQL flushes its WAL at every commit (about 2.5 ms here), and the lock serialises
# the commits: 16,000 one-record transactions would take a minute, so one at a time runs
# 8 x 250 there; the batched run (50 a transaction) does the 8 x 2,000.
PER_WRITER = 2000
PER_WRITER_ONE_AT_A_TIME_ON_POSTGRESQL = 250
TRUSTED = "LOGOMESH_AUDIT__TRUSTED_PUBLIC_KEYS"

WORKER = """
import sys
from pathlib import Path
from logomesh.audit.models import AuditEntry
from logomesh.commands.values import Outcome, Source
from logomesh.composition import build_engine
from logomesh.config import load_settings

workspace, env_json, name, count, batch = sys.argv[1:6]
import json
loaded = load_settings(Path(workspace), environ=json.loads(env_json))
engine = build_engine(loaded.settings)
count, batch = int(count), int(batch)
entries = [
    AuditEntry(actor=name, source=Source.SYSTEM, action="test.append", outcome=Outcome.OK,
               arguments={"i": i})
    for i in range(count)
]
for start in range(0, count, batch):
    chunk = entries[start:start + batch]
    if batch == 1:
        engine.audit.record(chunk[0])
    else:
        engine.audit.record_many(chunk)
engine.close()
"""


def _start_writers(
    workspace: Path,
    env: dict[str, str],
    batch: int,
    writers: int,
    per_writer: int,
    first: int = 0,
) -> list[subprocess.Popen[str]]:
    child_env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    return [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WORKER,
                str(workspace),
                json.dumps(env),
                f"writer{first + n}",
                str(per_writer),
                str(batch),
            ],
            env=child_env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(writers)
    ]


def _wait_for(procs: list[subprocess.Popen[str]]) -> None:
    failures = []
    for proc in procs:
        _, stderr = proc.communicate(timeout=120)
        if proc.returncode != 0:
            failures.append(stderr)
    assert not failures, "\n".join(failures)


def _check_trail(engine: Engine, batch: int, writers: int, per_writer: int) -> None:
    records = [r for chunk in engine.audit.store.iter_all() for r in chunk]
    assert len(records) == writers * per_writer
    assert [r.seq for r in records] == list(range(1, writers * per_writer + 1))

    by_writer: dict[str, list[int]] = defaultdict(list)
    seqs_of: dict[str, list[int]] = defaultdict(list)
    for record in records:
        by_writer[record.actor].append(record.arguments["i"])
        seqs_of[record.actor].append(record.seq)
    assert set(by_writer) == {f"writer{n}" for n in range(writers)}
    for values in by_writer.values():
        # Every record of every writer is there, once, in the order it was appended.
        assert values == list(range(per_writer))
    if batch > 1:
        # A batch is one transaction: its records sit together in the chain.
        for seqs in seqs_of.values():
            for start in range(0, per_writer, batch):
                chunk = seqs[start : start + batch]
                assert chunk == list(range(chunk[0], chunk[0] + len(chunk)))

    assert engine.audit.spooled() == 0
    report = engine.audit.verify()
    assert report.ok, report.summary()
    assert report.records == writers * per_writer


@pytest.mark.parametrize("batch", [1, 50], ids=["one-at-a-time", "append_many"])
def test_concurrent_writers_form_one_chain(
    workspace: Path,
    test_env: dict[str, str],
    load: Callable[..., LoadedSettings],
    backend: str,
    batch: int,
) -> None:
    """4 processes x 2,000 appends (8 x 2,000 in batches on PostgreSQL): exactly that many
    records with seqs 1..N, none lost, each writer's in its order, and the chain verifies."""
    writers = WRITERS[backend]
    one_at_a_time_on_pg = backend == "postgresql" and batch == 1
    per_writer = PER_WRITER_ONE_AT_A_TIME_ON_POSTGRESQL if one_at_a_time_on_pg else PER_WRITER
    _wait_for(_start_writers(workspace, test_env, batch, writers, per_writer))
    loaded = load()
    engine = build_engine(loaded.settings, provenance=loaded.provenance)
    try:
        _check_trail(engine, batch, writers, per_writer)
        # Periodic checkpoints (every 1,000) were signed by whichever writer crossed them.
        checkpoints = engine.audit.signer.read()
        assert checkpoints.unreadable == []
        assert len(checkpoints.checkpoints) == writers * per_writer // 1000
    finally:
        engine.close()


@pytest.mark.postgresql_only("one trail shared by two machines: only a server can be")
def test_writers_on_two_machines_form_one_chain(
    tmp_path: Path,
    workspace: Path,
    test_env: dict[str, str],
    load: Callable[..., LoadedSettings],
) -> None:
    """Two "machines" (their own workspace, state directory, spool and signing key) with 4
    writers each on one PostgreSQL trail: one chain, which a plain verify passes on either.

    Each machine signs the periodic checkpoints its own writers cross, into its own file and
    into the shared audit_checkpoints table; each lists the other's key in
    ``audit.trusted_public_keys`` (as docs/team.md says, from `logomesh audit key`), so the
    union covers every multiple of checkpoint_every on both machines."""
    other = tmp_path / "machine-b"
    other.mkdir()
    other_env = {
        **test_env,
        "HOME": str(tmp_path / "home-b"),
        "XDG_CONFIG_HOME": str(tmp_path / "config-b"),
    }
    trust_now(other, other_env)
    key_here, key_there = (
        _public_key(load_settings(ws, environ=env))
        for ws, env in ((workspace, test_env), (other, other_env))
    )
    here_env = {**test_env, TRUSTED: json.dumps([key_there])}
    other_env[TRUSTED] = json.dumps([key_here])
    per_writer = 500
    procs = _start_writers(workspace, here_env, 50, 4, per_writer)
    procs += _start_writers(other, other_env, 50, 4, per_writer, first=4)
    _wait_for(procs)
    here = load(**{TRUSTED: here_env[TRUSTED]})
    there = load_settings(other, environ=other_env)
    assert here.settings.audit_key_path != there.settings.audit_key_path
    signed: list[int] = []
    for loaded in (here, there):
        engine = build_engine(loaded.settings, provenance=loaded.provenance)
        try:
            _check_trail(engine, 50, 8, per_writer)
            report = engine.audit.verify()
            rows = engine.audit.shared.read().checkpoints
            assert report.checkpoints_from_database == len(rows) == 4
            # Which machine crossed which multiple is the scheduler's choice; both keys count.
            assert set(report.checkpoint_keys) == {row.public_key for row in rows}
            assert set(report.checkpoint_keys) <= {key_here, key_there}
            signed += [c.seq for c in engine.audit.signer.read().checkpoints]
            shared = sorted(row.seq for row in rows)
        finally:
            engine.close()
    periodic = [seq for seq in sorted(signed) if seq % 1000 == 0]
    assert periodic == [1000, 2000, 3000, 4000]  # each signed once, by one of the machines
    assert shared == periodic  # and each published once


def _public_key(loaded: LoadedSettings) -> str:
    """The machine's signing key, made before its writers start (`logomesh audit key`)."""
    settings = loaded.settings
    return CheckpointSigner(settings.audit_key_path, settings.checkpoint_path).public_key_hex()
