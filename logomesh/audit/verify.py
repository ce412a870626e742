"""``audit verify``: the chain, its payloads and its signed checkpoints, checked in one pass.

The report separates what is tampering (a broken chain, a payload whose text no longer
matches its hash, a checkpoint the chain contradicts, a checkpoint the schedule says must
exist and does not) from what retention does on purpose (pruned payloads), so an operator is
never told to panic about a policy they set.

Missing checkpoints follow the rule of :mod:`logomesh.audit.schedule`: for each multiple M of
``checkpoint_every`` up to the head, a valid checkpoint at a seq in [M, M + checkpoint_every).
A trail imported from elsewhere (or written with a larger ``checkpoint_every``) is verified
with ``allow_missing_checkpoints``: the gaps are still listed, but do not fail it.

The checkpoints are the union of this machine's file and the database's
``audit_checkpoints`` table (:mod:`logomesh.audit.shared_checkpoints`), where every machine
of a team publishes its own: a table row counts only when its key is trusted and its
signature verifies, and one that does not is reported, like a forged line in the file.

A checkpoint ahead of the chain is reported as deleted records, not as a possible crash:
the trail makes the chain durable before it writes a checkpoint (see :mod:`.trail`), so a
power loss cannot leave the checkpoint file ahead of the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from logomesh.audit.chain import ChainBreak, ChainWalk
from logomesh.audit.checkpoints import Checkpoint, CheckpointSigner, signature_valid
from logomesh.audit.models import PAYLOAD_FIELDS, AuditRecord
from logomesh.audit.schedule import expected_seqs
from logomesh.audit.shared_checkpoints import TABLE, SharedCheckpoints
from logomesh.audit.store import AuditStore
from logomesh.canonical import sha256_hex
from logomesh.plural import plural, verb


@dataclass
class VerifyReport:
    # Two counts, because after the first bad record nothing later can be vouched for:
    # ``records`` is every record in the trail, ``records_verified`` those before the first
    # bad one (all of them when the chain is intact).
    records: int = 0
    records_verified: int = 0
    head_seq: int = 0
    head_hash: str = ""
    first_break: ChainBreak | None = None
    payloads_checked: int = 0
    payloads_pruned: int = 0
    payloads_tampered: list[str] = field(default_factory=list)
    checkpoints_checked: int = 0  # distinct: one in the file and the table counts once
    checkpoints_from_file: int = 0
    checkpoints_from_database: int = 0
    checkpoint_keys: list[str] = field(default_factory=list)  # signed the ones that count
    untrusted_keys: list[str] = field(default_factory=list)  # signed database rows only
    checkpoint_problems: list[str] = field(default_factory=list)
    checkpoints_missing: list[int] = field(default_factory=list)
    missing_allowed: bool = False
    spool_quarantined: int = 0
    quarantine_file: str = ""

    @property
    def ok(self) -> bool:
        return (
            self.first_break is None and not self.payloads_tampered and not self.checkpoint_problems
        )

    def _notes(self) -> str:
        """What verification does not fail on, but a person should know."""
        notes = ""
        if self.checkpoints_missing and self.missing_allowed:
            notes += (
                f", {plural(len(self.checkpoints_missing), 'expected checkpoint')} missing, allowed"
            )
        notes += "."
        if self.spool_quarantined:
            notes += (
                f" {plural(self.spool_quarantined, 'unreadable spool line')}"
                f" {verb(self.spool_quarantined, 'is', 'are')} kept in "
                f"{self.quarantine_file} (each has an audit.spool_quarantined record): read "
                "them, then move the file away."
            )
        return notes

    def _sources(self) -> str:
        """Where the checkpoints came from, once the team's table holds any."""
        if not self.checkpoints_from_database:
            return ""
        return (
            f" ({self.checkpoints_from_file} in this machine's file, "
            f"{self.checkpoints_from_database} in the database, signed by "
            f"{plural(len(self.checkpoint_keys), 'key')})"
        )

    def summary(self) -> str:
        if self.ok:
            pruned = f", {plural(self.payloads_pruned, 'payload')} pruned by retention" * bool(
                self.payloads_pruned
            )
            return (
                f"Audit trail intact: {plural(self.records, 'record')}, chain head "
                f"#{self.head_seq}, {plural(self.checkpoints_checked, 'signed checkpoint')} "
                f"{verb(self.checkpoints_checked, 'matches', 'match')}{self._sources()}"
                f"{pruned}{self._notes()}"
            )
        problems = []
        if self.first_break is not None:
            b = self.first_break
            problems.append(f"record #{b.seq} (id {b.record_id}) is the first bad one: {b.reason}")
            problems.append(
                f"{self.records_verified} of {self.records} records verified, the ones before "
                f"#{b.seq}; none after it can be vouched for"
            )
        problems.extend(self.payloads_tampered[:5])
        problems.extend(self.checkpoint_problems[:5])
        notes = self._notes().removeprefix(".").strip()
        return (
            "Audit trail FAILED verification:\n  "
            + "\n  ".join(problems)
            + (f"\n{notes}" if notes else "")
        )

    def to_dict(self) -> dict[str, Any]:
        broken = self.first_break
        return {
            "ok": self.ok,
            "records": self.records,
            "records_verified": self.records_verified,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "first_bad_record": (
                {"seq": broken.seq, "id": broken.record_id, "reason": broken.reason}
                if broken
                else None
            ),
            "payloads_checked": self.payloads_checked,
            "payloads_pruned": self.payloads_pruned,
            "payloads_tampered": self.payloads_tampered,
            "checkpoints_checked": self.checkpoints_checked,
            "checkpoints_from_file": self.checkpoints_from_file,
            "checkpoints_from_database": self.checkpoints_from_database,
            "checkpoint_keys": self.checkpoint_keys,
            "untrusted_keys": self.untrusted_keys,
            "checkpoint_problems": self.checkpoint_problems,
            "checkpoints_missing": self.checkpoints_missing,
            "spool_quarantined": self.spool_quarantined,
            "quarantine_file": self.quarantine_file,
            "summary": self.summary(),
        }


def verify_trail(
    store: AuditStore,
    signer: CheckpointSigner,
    trusted_keys: tuple[str, ...] = (),
    *,
    checkpoint_every: int = 0,
    allow_missing_checkpoints: bool = False,
) -> VerifyReport:
    report = VerifyReport(missing_allowed=allow_missing_checkpoints)
    checkpoint_file = signer.read()
    table = SharedCheckpoints(store.db).read()
    union = _union(checkpoint_file.checkpoints, table.checkpoints)
    report.checkpoints_from_file = len(checkpoint_file.checkpoints)
    report.checkpoints_from_database = len(table.checkpoints)
    wanted = {c.seq for c, _ in union}
    hashes_at: dict[int, str] = {}
    walk = ChainWalk()
    report.head_hash = walk.last_hash  # an empty trail's head is the genesis hash
    for batch in store.iter_all():
        report.records += len(batch)
        if batch:  # the stored head, also past a break: checkpoints are compared with it
            report.head_seq, report.head_hash = batch[-1].seq, batch[-1].hash
        walk.feed(batch)
        hashes_at.update({r.seq: r.hash for r in batch if r.seq in wanted})
        _check_payloads(store, batch, report)
    report.first_break = walk.first_break
    # The walk counts the record it stopped at; that one is not verified.
    report.records_verified = walk.checked - (walk.first_break is not None)

    trusted = set(trusted_keys)
    own = signer.existing_public_key_hex()
    if own:
        trusted.add(own)
    report.checkpoint_problems.extend(
        f"{where}: unreadable checkpoint line" for where in checkpoint_file.unreadable
    )
    if table.missing:
        report.checkpoint_problems.append(
            f"the database {store.db.where} has no {TABLE} table (dropped, or its schema is "
            "older than migration 0007): the checkpoints other machines published cannot be "
            "checked. Run `logomesh db upgrade` if its schema is behind; otherwise it was "
            "dropped, and the checkpoints only it held are reported missing"
        )
    signed = _check_signed(report, union, trusted, hashes_at)
    _check_coverage(report, signed, checkpoint_every, str(signer.checkpoint_path))
    return report


def _check_signed(
    report: VerifyReport,
    union: list[tuple[Checkpoint, bool]],
    trusted: set[str],
    hashes_at: dict[int, str],
) -> list[int]:
    """Check each checkpoint's key, signature and hash; the seqs of those that count."""
    untrusted: dict[str, list[int]] = {}  # database rows by key: one problem per key
    signed: list[int] = []  # present with a good signature: not missing, whatever it says
    keys: set[str] = set()
    for checkpoint, in_file in union:
        report.checkpoints_checked += 1
        where = "checkpoint" if in_file else f"checkpoint in the database's {TABLE}"
        if not in_file and checkpoint.public_key not in trusted:
            untrusted.setdefault(checkpoint.public_key, []).append(checkpoint.seq)
            continue
        if not signature_valid(checkpoint, trusted):
            report.checkpoint_problems.append(
                f"{where} for #{checkpoint.seq} signed {checkpoint.signed_at} has an invalid "
                + (
                    "signature or an untrusted key (add its key to `audit.trusted_public_keys` "
                    "if it is yours)"
                    if in_file
                    else "signature: the row was forged or altered by someone with access to "
                    "the database"
                )
            )
            continue
        signed.append(checkpoint.seq)
        keys.add(checkpoint.public_key)
        _check_against_chain(report, checkpoint, hashes_at, where)
    report.checkpoint_keys = sorted(keys)
    report.untrusted_keys = sorted(untrusted)
    for key, seqs in untrusted.items():
        report.checkpoint_problems.append(_untrusted(key, seqs))
    return signed


def _union(
    from_file: list[Checkpoint], from_table: list[Checkpoint]
) -> list[tuple[Checkpoint, bool]]:
    """Every checkpoint once (the file's copy of one also published counts once), with
    whether the file holds it: the file's lines first, in their order."""
    seen = {(c.seq, c.public_key, c.signature) for c in from_file}
    union = [(c, True) for c in from_file]
    for checkpoint in from_table:
        key = (checkpoint.seq, checkpoint.public_key, checkpoint.signature)
        if key not in seen:
            seen.add(key)
            union.append((checkpoint, False))
    return union


def _check_against_chain(
    report: VerifyReport, checkpoint: Checkpoint, hashes_at: dict[int, str], where: str
) -> None:
    seq, signed_at = checkpoint.seq, checkpoint.signed_at
    if seq not in hashes_at and seq <= report.head_seq:
        report.checkpoint_problems.append(
            f"record #{seq}, vouched for by the {where} signed {signed_at}, is missing from "
            "the chain: records were deleted"
        )
    elif seq not in hashes_at:
        report.checkpoint_problems.append(
            f"the chain ends at #{report.head_seq} but a {where} signed {signed_at} vouches "
            f"for #{seq}: records #{report.head_seq + 1}-#{seq} were deleted, or the database "
            "was restored from a copy older than the checkpoint (not a crash: the chain is "
            "made durable before each checkpoint is written)"
        )
    elif hashes_at[seq] != checkpoint.hash:
        report.checkpoint_problems.append(
            f"record #{seq} differs from the {where} signed {signed_at}: the chain was "
            f"rewritten at or before #{seq}"
        )


def _untrusted(key: str, seqs: list[int]) -> str:
    shown = ", ".join(f"#{seq}" for seq in sorted(seqs)[:5])
    more = f" and {len(seqs) - 5} more" if len(seqs) > 5 else ""
    return (
        f"{plural(len(seqs), 'checkpoint')} in the database's {TABLE} ({shown}{more}) "
        f"{verb(len(seqs), 'is', 'are')} signed by "
        f"key {key}, which is not in `audit.trusted_public_keys`, so they vouch for nothing. "
        "If it is a team machine's key (`logomesh audit key` on that machine prints it), add "
        "it to `audit.trusted_public_keys` in this machine's user config; if not, someone "
        "with access to the database wrote them"
    )


def _check_coverage(report: VerifyReport, signed: list[int], every: int, path: str) -> None:
    """The checkpoints the schedule wrote for a chain this long (schedule's rule)."""
    if every <= 0:
        return
    covered = {seq // every for seq in signed}
    missing = [m for m in expected_seqs(report.head_seq, every) if m // every not in covered]
    report.checkpoints_missing = missing
    if not missing or report.missing_allowed:
        return
    shown = [f"#{m} (expected one in #{m}-#{m + every - 1})" for m in missing[:1]]
    shown += [f"#{m} (#{m}-#{m + every - 1})" for m in missing[1:5]]
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    untrusted = (
        " Checkpoints signed by keys not in `audit.trusted_public_keys` do not count: on a "
        "team, list every machine's key there (`logomesh audit key` prints a machine's)."
        if report.untrusted_keys
        else ""
    )
    report.checkpoint_problems.append(
        f"no signed checkpoint for {', '.join(shown)}{more}, though one is written every "
        f"{every} records: the checkpoint file {path} was truncated or deleted and the "
        f"database's {TABLE} rows with it, or a crash came between a commit and its "
        f"checkpoint.{untrusted} For a trail imported from elsewhere, verify with "
        "--allow-missing-checkpoints (allow_missing_checkpoints=true)."
    )


def _check_payloads(store: AuditStore, batch: list[AuditRecord], report: VerifyReport) -> None:
    refs = [(r.seq, name, getattr(r, name)) for r in batch for name in PAYLOAD_FIELDS]
    refs = [ref for ref in refs if ref[2]]
    if not refs:
        return
    stored = store.payloads(sorted({digest for _, _, digest in refs}))
    for seq, name, digest in refs:
        content = stored.get(digest)
        if content is None:
            report.payloads_pruned += 1
        elif sha256_hex(content) != digest:
            report.payloads_tampered.append(
                f"record #{seq}: its {name.removesuffix('_hash')} payload was changed"
            )
        else:
            report.payloads_checked += 1
