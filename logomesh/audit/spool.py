"""The spool: audit records, already redacted, that wait for the database to take them.

A line of this file can go bad: a crash mid-write leaves half a line, a person edits it, a
disk returns garbage. One such line must not stop the lines after it, nor every later write
(the drain would fail on it forever). So a drain reads every line, and a line it cannot read
is kept verbatim in a quarantine file beside the spool and replaced, in the chain, by an
``audit.spool_quarantined`` record that names the file, the line number and why, but not
the line's content (the spool is redacted, yet a line torn or edited by hand may hold
anything).

The order of a drain makes every step safe to repeat after a crash: (1) the records and the
quarantine events are committed, skipping ids already stored (the quarantine event's id is
derived from the line and the state of the quarantine file, so a repeat finds it stored);
(2) the unreadable lines are appended to the quarantine file and fsynced; (3) the spool is
truncated, under its lock the whole time and never unlinked: a writer waiting for the lock
holds this same file open, and what it appends must not go to a file nobody reads.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from logomesh.audit.models import AuditEntry
from logomesh.commands.values import Outcome, Source
from logomesh.security.redaction import redact, redact_text

QUARANTINED_ACTION = "audit.spool_quarantined"
_REQUIRED = ("actor", "source", "action", "outcome", "timestamp", "id")
_KNOWN = frozenset(f.name for f in fields(AuditEntry))
_TEXTS = (
    *("actor", "action", "target", "error", "correlation_id", "parent_id", "model"),
    *("prompt", "response", "output", "id"),
)


@dataclass(frozen=True)
class SpoolDrain:
    """What a locked spool held: the entries to chain in (quarantine events in the place of
    the lines they replace) and the unreadable lines, kept for the quarantine file."""

    entries: list[AuditEntry]
    unreadable: list[bytes]


class Spool:
    """The spool file and its quarantine file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.quarantine_path = path.with_name(f"{path.stem}.quarantine.jsonl")

    def has_lines(self) -> bool:
        try:
            return self.path.stat().st_size > 0  # checked without opening or locking
        except FileNotFoundError:
            return False

    def count(self) -> int:
        return _count_lines(self.path)

    def quarantined(self) -> int:
        return _count_lines(self.quarantine_path)

    def append(self, entries: Sequence[AuditEntry]) -> None:
        """Keep entries, redacted, until a write can chain them in (fsynced)."""
        now = datetime.now(UTC)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            text = "".join(_entry_to_json(entry, now) + "\n" for entry in entries)
            if _ends_torn(handle):
                text = "\n" + text  # a crashed write's half line stays a line of its own
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())

    @contextmanager
    def draining(self) -> Iterator[SpoolDrain]:
        """Lock the spool and read it; when the block ends without an error, quarantine
        its unreadable lines and empty the spool (see the module docstring for the order)."""
        with self.path.open("r+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            drain = self._read(handle)
            yield drain
            if drain.unreadable:
                self._quarantine(drain.unreadable)
            handle.seek(0)
            handle.truncate()
            handle.flush()
            os.fsync(handle.fileno())

    def _read(self, handle: IO[bytes]) -> SpoolDrain:
        state = self._quarantine_state()
        entries: list[AuditEntry] = []
        unreadable: list[bytes] = []
        for number, raw in enumerate(handle.read().split(b"\n"), start=1):
            if not raw.strip():
                continue
            entry, problem = parse_line(raw)
            if entry is None:
                unreadable.append(raw)
                key = f"{state}:{number}:{_sha256(raw)}:{[e.id for e in entries]}"
                entries.append(self._quarantine_event(number, problem, raw, key))
            else:
                entries.append(entry)
        return SpoolDrain(entries, unreadable)

    def _quarantine_event(self, number: int, problem: str, raw: bytes, key: str) -> AuditEntry:
        return AuditEntry(
            actor="system",  # as the engine names itself elsewhere (identity, approvals)
            source=Source.SYSTEM,
            action=QUARANTINED_ACTION,
            outcome=Outcome.ERROR,
            target=str(self.path),
            error=f"line {number} of the audit spool is unreadable ({problem}); it was moved "
            f"to {self.quarantine_path}",
            details={
                "quarantine_file": str(self.quarantine_path),
                "line": number,
                "reason": problem,
                "bytes": len(raw),
                # Identifies the line in the quarantine file without repeating it here.
                "sha256": _sha256(raw),
            },
            id=_sha256(key.encode())[:32],
            timestamp=datetime.now(UTC),
        )

    def _quarantine_state(self) -> str:
        # Changes each time lines are quarantined, so a repeated drain after a crash keeps
        # the ids of its quarantine events, and a line quarantined later gets a new one.
        try:
            stat = self.quarantine_path.stat()
        except FileNotFoundError:
            return "none"
        return f"{stat.st_size}:{stat.st_mtime_ns}"

    def _quarantine(self, lines: list[bytes]) -> None:
        with self.quarantine_path.open("ab") as side:
            fcntl.flock(side, fcntl.LOCK_EX)
            side.write(b"".join(line + b"\n" for line in lines))  # verbatim, bytes and all
            side.flush()
            os.fsync(side.fileno())


def parse_line(raw: bytes) -> tuple[AuditEntry | None, str]:
    """A spool line as an entry, or None and why not (naming fields, never their values)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text (a bad byte at offset {exc.start})"
    try:
        values = json.loads(text)
    except ValueError as exc:
        where = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else "undecodable"
        return None, f"not JSON: {detail}{where}"
    if not isinstance(values, dict):
        return None, "not a JSON object"
    missing = [name for name in _REQUIRED if name not in values]
    if missing:
        return None, f"missing field(s): {', '.join(missing)}"
    unknown = set(values) - _KNOWN
    if unknown:
        return None, f"{len(unknown)} unknown field(s)"
    problem = _type_problem(values)
    if problem:
        return None, problem
    try:
        values["timestamp"] = datetime.fromisoformat(values["timestamp"])
        values["source"] = Source(values["source"])
        values["outcome"] = Outcome(values["outcome"])
    except ValueError:
        return None, "`timestamp`, `source` or `outcome` has a value they cannot have"
    return AuditEntry(**values), ""


def _type_problem(values: dict[str, Any]) -> str:
    for name in _TEXTS:
        if values.get(name) is not None and not isinstance(values[name], str):
            return f"field `{name}` is not text"
    for name in ("arguments", "details"):
        if name in values and not isinstance(values[name], dict):
            return f"field `{name}` is not an object"
    for name in ("tokens_in", "tokens_out"):
        value = values.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            return f"field `{name}` is not an integer"
    duration = values.get("duration_ms", 0)
    if not isinstance(duration, int | float) or isinstance(duration, bool):
        return "field `duration_ms` is not a number"
    if not all(isinstance(values[name], str) for name in ("timestamp", "source", "outcome")):
        return "`timestamp`, `source` or `outcome` is not text"
    return ""


def _entry_to_json(entry: AuditEntry, now: datetime) -> str:
    # Redact before the spool touches the disk: the spool is as secret-free as the table.
    redacted = replace(
        entry,
        arguments=redact(dict(entry.arguments)),
        details=redact(dict(entry.details)),
        error=redact_text(entry.error) if entry.error else entry.error,
        target=redact_text(entry.target) if entry.target else entry.target,
        prompt=redact_text(entry.prompt) if entry.prompt else entry.prompt,
        response=redact_text(entry.response) if entry.response else entry.response,
        output=redact_text(entry.output) if entry.output else entry.output,
        timestamp=entry.timestamp or now,
    )
    values = asdict(redacted)
    values["timestamp"] = values["timestamp"].isoformat()
    return json.dumps(values, default=str, sort_keys=True)


def _ends_torn(handle: IO[bytes]) -> bool:
    end = handle.seek(0, os.SEEK_END)
    if end == 0:
        return False
    handle.seek(end - 1)
    return handle.read(1) != b"\n"


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        return sum(1 for line in handle if line.strip())


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
