"""``audit verify``: the chain, its payloads and its signed checkpoints, checked in one pass.

The report separates what is tampering (a broken chain, a payload whose text no longer
matches its hash, a checkpoint the chain contradicts, a checkpoint the schedule says must
exist and does not) from what retention does on purpose (pruned payloads), so an operator is
never told to panic about a policy they set.

Missing checkpoints follow the rule of :mod:`logomesh.audit.schedule`: for each multiple M of
``checkpoint_every`` up to the head, a valid checkpoint at a seq in [M, M + checkpoint_every).
A trail imported from elsewhere (or written with a larger ``checkpoint_every``) is verified
with ``allow_missing_checkpoints``: the gaps are still listed, but do not fail it.

A checkpoint ahead of the chain is reported as deleted records, not as a possible crash:
the trail makes the chain durable before it writes a checkpoint (see :mod:`.trail`), so a
power loss cannot leave the checkpoint file ahead of the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from logomesh.audit.chain import ChainBreak, ChainWalk
from logomesh.audit.checkpoints import CheckpointSigner, signature_valid
from logomesh.audit.models import PAYLOAD_FIELDS, AuditRecord
from logomesh.audit.schedule import expected_seqs
from logomesh.audit.store import AuditStore
from logomesh.canonical import sha256_hex


@dataclass
class VerifyReport:
    records: int = 0
    head_seq: int = 0
    head_hash: str = ""
    first_break: ChainBreak | None = None
    payloads_checked: int = 0
    payloads_pruned: int = 0
    payloads_tampered: list[str] = field(default_factory=list)
    checkpoints_checked: int = 0
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
            notes += f", {len(self.checkpoints_missing)} expected checkpoint(s) missing, allowed"
        notes += "."
        if self.spool_quarantined:
            notes += (
                f" {self.spool_quarantined} unreadable spool line(s) are kept in "
                f"{self.quarantine_file} (each has an audit.spool_quarantined record): read "
                "them, then move the file away."
            )
        return notes

    def summary(self) -> str:
        if self.ok:
            pruned = f", {self.payloads_pruned} payload(s) pruned by retention" * bool(
                self.payloads_pruned
            )
            return (
                f"Audit trail intact: {self.records} records, chain head #{self.head_seq}, "
                f"{self.checkpoints_checked} signed checkpoint(s) match{pruned}{self._notes()}"
            )
        problems = []
        if self.first_break is not None:
            b = self.first_break
            problems.append(f"record #{b.seq} (id {b.record_id}) is the first bad one: {b.reason}")
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
    wanted = {c.seq for c in checkpoint_file.checkpoints}
    hashes_at: dict[int, str] = {}
    walk = ChainWalk()
    for batch in store.iter_all():
        walk.feed(batch)
        hashes_at.update({r.seq: r.hash for r in batch if r.seq in wanted})
        _check_payloads(store, batch, report)
    report.records, report.head_seq, report.head_hash = walk.checked, walk.last_seq, walk.last_hash
    report.first_break = walk.first_break

    trusted = set(trusted_keys)
    own = signer.existing_public_key_hex()
    if own:
        trusted.add(own)
    report.checkpoint_problems.extend(
        f"{where}: unreadable checkpoint line" for where in checkpoint_file.unreadable
    )
    signed: list[int] = []  # present with a good signature: not missing, whatever it says
    for checkpoint in checkpoint_file.checkpoints:
        report.checkpoints_checked += 1
        if not signature_valid(checkpoint, trusted):
            report.checkpoint_problems.append(
                f"checkpoint for #{checkpoint.seq} signed {checkpoint.signed_at} has an invalid "
                "signature or an untrusted key (add its key to `audit.trusted_public_keys` "
                "if it is yours)"
            )
            continue
        signed.append(checkpoint.seq)
        if checkpoint.seq not in hashes_at and checkpoint.seq <= report.head_seq:
            report.checkpoint_problems.append(
                f"record #{checkpoint.seq}, vouched for by the checkpoint signed "
                f"{checkpoint.signed_at}, is missing from the chain: records were deleted"
            )
        elif checkpoint.seq not in hashes_at:
            report.checkpoint_problems.append(
                f"the chain ends at #{report.head_seq} but a checkpoint signed "
                f"{checkpoint.signed_at} vouches for #{checkpoint.seq}: records "
                f"#{report.head_seq + 1}-#{checkpoint.seq} were deleted, or the database was "
                "restored from a copy older than the checkpoint (not a crash: the chain is "
                "made durable before each checkpoint is written)"
            )
        elif hashes_at[checkpoint.seq] != checkpoint.hash:
            report.checkpoint_problems.append(
                f"record #{checkpoint.seq} differs from the checkpoint signed "
                f"{checkpoint.signed_at}: the chain was rewritten at or before #{checkpoint.seq}"
            )
    _check_coverage(report, signed, checkpoint_every, str(signer.checkpoint_path))
    return report


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
    report.checkpoint_problems.append(
        f"no signed checkpoint for {', '.join(shown)}{more}, though one is written every "
        f"{every} records: the checkpoint file {path} was truncated or deleted, or a crash "
        "came between a commit and its checkpoint. For a trail imported from elsewhere, "
        "verify with --allow-missing-checkpoints (allow_missing_checkpoints=true)."
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
