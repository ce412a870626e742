"""``audit verify``: the chain, its payloads and its signed checkpoints, checked in one pass.

The report separates what is tampering (a broken chain, a payload whose text no longer
matches its hash, a checkpoint the chain contradicts) from what retention does on purpose
(pruned payloads), so an operator is never told to panic about a policy they set.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from logomesh.audit.chain import ChainBreak, ChainWalk
from logomesh.audit.checkpoints import CheckpointSigner, signature_valid
from logomesh.audit.models import PAYLOAD_FIELDS, AuditRecord
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

    @property
    def ok(self) -> bool:
        return (
            self.first_break is None and not self.payloads_tampered and not self.checkpoint_problems
        )

    def summary(self) -> str:
        if self.ok:
            pruned = f", {self.payloads_pruned} payload(s) pruned by retention" * bool(
                self.payloads_pruned
            )
            return (
                f"Audit trail intact: {self.records} records, chain head #{self.head_seq}, "
                f"{self.checkpoints_checked} signed checkpoint(s) match{pruned}."
            )
        problems = []
        if self.first_break is not None:
            b = self.first_break
            problems.append(f"record #{b.seq} (id {b.record_id}) is the first bad one: {b.reason}")
        problems.extend(self.payloads_tampered[:5])
        problems.extend(self.checkpoint_problems[:5])
        return "Audit trail FAILED verification:\n  " + "\n  ".join(problems)

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
            "summary": self.summary(),
        }


def verify_trail(
    store: AuditStore, signer: CheckpointSigner, trusted_keys: tuple[str, ...] = ()
) -> VerifyReport:
    report = VerifyReport()
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
    for checkpoint in checkpoint_file.checkpoints:
        report.checkpoints_checked += 1
        if not signature_valid(checkpoint, trusted):
            report.checkpoint_problems.append(
                f"checkpoint for #{checkpoint.seq} signed {checkpoint.signed_at} has an invalid "
                "signature or an untrusted key (add its key to `audit.trusted_public_keys` "
                "if it is yours)"
            )
        elif checkpoint.seq not in hashes_at:
            report.checkpoint_problems.append(
                f"the chain ends at #{report.head_seq} but a checkpoint signed "
                f"{checkpoint.signed_at} vouches for #{checkpoint.seq}: records were deleted"
            )
        elif hashes_at[checkpoint.seq] != checkpoint.hash:
            report.checkpoint_problems.append(
                f"record #{checkpoint.seq} differs from the checkpoint signed "
                f"{checkpoint.signed_at}: the chain was rewritten at or before #{checkpoint.seq}"
            )
    return report


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
