"""The spool survives what a crash or a careless edit leaves in it (issue 10, item 1).

An unreadable line is moved, verbatim, to a quarantine file and recorded as an audit event of
its own; the rest is drained. A drain that crashed between its commit and the truncate is
repeated without inserting a record twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest

from logomesh.audit.models import AuditEntry, AuditRecord
from logomesh.audit.spool import parse_line
from logomesh.commands.models import CommandResult
from logomesh.commands.values import Outcome, Source
from logomesh.engine import Engine
from logomesh.errors import AuditSpooledError, StorageError

SECRET_LINE = '{"actor": "alice", "api_key": "sk-live-0123456789abcdef0123456789abcdef"'


def _entry(action: str) -> AuditEntry:
    return AuditEntry(actor="alice", source=Source.CLI, action=action, outcome=Outcome.OK)


def _all(engine: Engine) -> list[AuditRecord]:
    return [record for batch in engine.audit.store.iter_all() for record in batch]


def test_unreadable_lines_are_quarantined_and_the_rest_drained(
    engine: Engine, run: Callable[..., CommandResult]
) -> None:
    """Garbage, a line missing fields and a torn last line: each is quarantined, none stops
    the good lines (in order) nor the command that drains them."""
    trail = engine.audit
    trail.spool([_entry("spooled.first")])
    good_first = trail.spool_path.read_text()
    trail.spool_path.unlink()
    trail.spool([_entry("spooled.second")])
    good_second = trail.spool_path.read_text()
    missing = json.dumps({"actor": "bob", "action": "x"})
    torn = good_second[: len(good_second) // 2]  # a crash in the middle of a write
    trail.spool_path.write_text(
        "not json{\n" + good_first + missing + "\n" + good_second + SECRET_LINE + "\n" + torn
    )

    result = run("whoami")

    assert result.ok and result.warnings == (), result.warnings
    assert trail.spooled() == 0
    records = _all(engine)
    actions = [r.action for r in records]
    assert actions.count("audit.spool_quarantined") == 4
    assert [a for a in actions if a != "audit.spool_quarantined"] == [
        "spooled.first",
        "spooled.second",
        "whoami",
    ]
    quarantine = trail.quarantine_path
    assert quarantine == trail.spool_path.with_name("audit-spool.quarantine.jsonl")
    # Kept verbatim, one line each (the torn line ends where the crash cut it).
    assert quarantine.read_text().splitlines() == ["not json{", missing, SECRET_LINE, torn]
    events = [r for r in records if r.action == "audit.spool_quarantined"]
    assert [e.details["line"] for e in events] == [1, 3, 5, 6]
    assert all(e.details["quarantine_file"] == str(quarantine) for e in events)
    assert all(e.target == str(trail.spool_path) for e in events)
    assert all(e.source == "system" and e.outcome == "error" for e in events)
    reasons = [str(e.details["reason"]) for e in events]
    assert reasons[0].startswith("not JSON")
    assert "missing field(s)" in reasons[1] and "outcome" in reasons[1]
    assert reasons[3].startswith("not JSON")
    # No content of a quarantined line reaches the trail (it may hold a secret).
    dumped = json.dumps([r.to_dict() for r in records])
    assert "sk-live" not in dumped and "not json{" not in dumped
    assert engine.audit.verify().ok


def test_status_and_verify_report_a_quarantine_file(
    engine: Engine, run: Callable[..., CommandResult]
) -> None:
    """Someone must look at quarantined lines: status and verify name the file."""
    engine.audit.spool_path.parent.mkdir(parents=True, exist_ok=True)
    engine.audit.spool_path.write_text("not json{\n")
    assert run("whoami").ok

    status = run("status")
    assert status.data["audit_quarantined"] == 1
    assert status.data["audit_quarantine_file"] == str(engine.audit.quarantine_path)
    verify = run("audit.verify")
    assert verify.ok and verify.data["ok"] is True  # the chain itself is intact
    assert verify.data["spool_quarantined"] == 1
    assert str(engine.audit.quarantine_path) in verify.message
    assert "1 unreadable spool line" in verify.message


_CRASHING_DRAIN = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from logomesh.audit.checkpoints import CheckpointSigner
    from logomesh.audit.store import AuditStore
    from logomesh.audit.trail import AuditTrail
    from logomesh.storage.database import Database

    url, spool, key, checkpoints = sys.argv[1:5]
    trail = AuditTrail(
        AuditStore(Database(url)),
        CheckpointSigner(Path(key), Path(checkpoints)),
        spool_path=Path(spool),
    )
    real = trail.store.append_many

    def commit_then_die(entries, **options):
        real(entries, **options)  # committed
        os.kill(os.getpid(), signal.SIGKILL)  # ... and the truncate never comes

    trail.store.append_many = commit_then_die
    trail.drain_spool()
    """
)


def test_a_drain_killed_between_commit_and_truncate_is_not_repeated(
    engine: Engine, run: Callable[..., CommandResult]
) -> None:
    """A real process killed after its commit, before the truncate: the spool still holds
    records that are in the table. The next write skips them and succeeds."""
    assert run("whoami").ok
    trail, settings = engine.audit, engine.settings
    trail.spool([_entry("spooled.one"), _entry("spooled.two")])
    spooled_ids = [json.loads(line)["id"] for line in trail.spool_path.read_text().splitlines()]

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            _CRASHING_DRAIN,
            engine.database.url,
            str(trail.spool_path),
            str(settings.audit_key_path),
            str(settings.checkpoint_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert trail.spooled() == 2  # the crash left the drained lines behind
    assert {r.id for r in _all(engine)} >= set(spooled_ids)

    after = run("whoami")

    assert after.ok and after.warnings == (), after.warnings
    assert after.audit_id is not None
    assert trail.spooled() == 0
    records = _all(engine)
    ids = [r.id for r in records]
    assert len(ids) == len(set(ids))  # nothing doubled
    assert [r.action for r in records] == ["whoami", "spooled.one", "spooled.two", "whoami"]
    assert trail.verify().ok


def test_duplicate_lines_within_the_spool_are_stored_once(engine: Engine) -> None:
    """A record spooled twice (its write failed after the commit) goes in once."""
    trail = engine.audit
    trail.spool([_entry("spooled.once")])
    line = trail.spool_path.read_text()
    trail.spool_path.write_text(line + line)
    assert trail.drain_spool() == 1
    assert [r.action for r in _all(engine)] == ["spooled.once"]


def test_a_spool_write_after_a_torn_line_starts_on_a_line_of_its_own(engine: Engine) -> None:
    """A crash mid-write leaves no newline; the next spooled record must not be glued to it."""
    trail = engine.audit
    trail.spool_path.parent.mkdir(parents=True, exist_ok=True)
    trail.spool_path.write_text('{"actor": "al')
    trail.spool([_entry("spooled.after_tear")])
    assert trail.drain_spool() == 2  # the record and the quarantine event
    assert [r.action for r in _all(engine)] == ["audit.spool_quarantined", "spooled.after_tear"]
    assert trail.quarantine_path.read_text() == '{"actor": "al\n'


_GOOD = {
    "actor": "alice",
    "source": "cli",
    "action": "whoami",
    "outcome": "ok",
    "timestamp": "2026-01-01T00:00:00+00:00",
    "id": "0" * 32,
}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"not json{", "not JSON: Expecting value at column 1"),
        (b"\xff\xfe{}", "not UTF-8 text (a bad byte at offset 0)"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"actor": "a"}).encode(), "missing field(s): source, action, outcome"),
        (json.dumps({**_GOOD, "password": "hunter2"}).encode(), "1 unknown field(s)"),
        (json.dumps({**_GOOD, "actor": 7}).encode(), "field `actor` is not text"),
        (json.dumps({**_GOOD, "arguments": "x"}).encode(), "field `arguments` is not an object"),
        (json.dumps({**_GOOD, "tokens_in": "9"}).encode(), "field `tokens_in` is not an integer"),
        (json.dumps({**_GOOD, "duration_ms": True}).encode(), "`duration_ms` is not a number"),
        (json.dumps({**_GOOD, "source": "fax"}).encode(), "`source` or `outcome` has a value"),
        (json.dumps({**_GOOD, "timestamp": "soon"}).encode(), "`timestamp`, `source`"),
    ],
)
def test_each_unreadable_line_says_why_without_its_content(line: bytes, reason: str) -> None:
    entry, problem = parse_line(line)
    assert entry is None
    assert reason in problem
    assert "hunter2" not in problem and "fax" not in problem and "soon" not in problem


def test_a_good_line_parses() -> None:
    entry, problem = parse_line(json.dumps(_GOOD).encode())
    assert problem == "" and entry is not None
    assert (entry.source, entry.outcome, entry.timestamp.year) == (Source.CLI, Outcome.OK, 2026)


def test_a_failed_transaction_leaves_the_writer_a_usable_connection(engine: Engine) -> None:
    """An append that fails inside its transaction (the same record id twice: a unique
    violation) aborts it; on PostgreSQL that leaves the session refusing every statement
    until a rollback. The writer's next append, on the same thread, must still work, and
    the spooled duplicate must not be stored twice."""
    first = _entry("once")
    engine.audit.record(first)
    with pytest.raises(StorageError, match="Database error on"):
        engine.audit.store.append(first)  # the store itself: nothing skips the duplicate
    with pytest.raises(AuditSpooledError):
        engine.audit.record(first)  # the same failure, through the trail: spooled
    assert engine.audit.spooled() == 1
    after = engine.audit.record(_entry("after"))  # drains (skipping the stored one) first
    assert after.seq == 2
    assert [r.action for r in _all(engine)] == ["once", "after"]
    assert engine.audit.spooled() == 0
    assert engine.audit.verify().ok
