"""Signed checkpoints of the chain head, kept outside the database.

Someone with write access to the database can rewrite every record and recompute every hash;
the chain alone would then look valid. A checkpoint is the head (sequence number and hash)
signed with an Ed25519 key that lives outside the database, appended to a file beside it.
``audit verify`` checks the chain against every checkpoint: a rewritten chain no longer has
the signed hash at the signed position, and a chain cut short no longer reaches it.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from logomesh.canonical import canonical_bytes, format_timestamp
from logomesh.errors import CheckpointError

_DOMAIN = b"logomesh-audit-checkpoint-v1\n"
_TAIL_BYTES = 16 * 1024  # a checkpoint line is about 350 bytes


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    signed_at: str
    public_key: str
    signature: str

    def message(self) -> bytes:
        return _DOMAIN + canonical_bytes(
            {"seq": self.seq, "hash": self.hash, "signed_at": self.signed_at}
        )


@dataclass(frozen=True)
class CheckpointFile:
    """What the checkpoint file held: readable checkpoints and lines that were not."""

    checkpoints: list[Checkpoint]
    unreadable: list[str]


class CheckpointSigner:
    """Signs chain heads with the engine's key and appends them to the checkpoint file."""

    def __init__(self, key_path: Path, checkpoint_path: Path) -> None:
        self.key_path = key_path
        self.checkpoint_path = checkpoint_path
        self._key: Ed25519PrivateKey | None = None

    def private_key(self) -> Ed25519PrivateKey:
        if self._key is None:
            self._key = self._load_or_create_key()
        return self._key

    def existing_public_key_hex(self) -> str | None:
        """The public key if a signing key exists; verifying never creates one."""
        return self.public_key_hex() if self._key or self.key_path.exists() else None

    def public_key_hex(self) -> str:
        raw = (
            self.private_key()
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )
        return raw.hex()

    def sign(self, seq: int, head_hash: str) -> Checkpoint:
        signed_at = format_timestamp(datetime.now(UTC))
        unsigned = Checkpoint(seq, head_hash, signed_at, self.public_key_hex(), "")
        signature = self.private_key().sign(unsigned.message()).hex()
        checkpoint = Checkpoint(seq, head_hash, signed_at, unsigned.public_key, signature)
        self._append(checkpoint)
        return checkpoint

    def read(self) -> CheckpointFile:
        if not self.checkpoint_path.exists():
            return CheckpointFile([], [])
        checkpoints: list[Checkpoint] = []
        unreadable: list[str] = []
        text = self.checkpoint_path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                checkpoints.append(Checkpoint(**json.loads(line)))
            except (ValueError, TypeError):
                unreadable.append(f"{self.checkpoint_path}:{number}")
        return CheckpointFile(checkpoints, unreadable)

    def newest(self) -> Checkpoint | None:
        """The last readable checkpoint in the file (unverified: for scheduling, not trust).

        Read from the file's tail, so a process that writes one record does not parse every
        checkpoint ever made to learn when the last one was signed."""
        try:
            with self.checkpoint_path.open("rb") as handle:
                end = handle.seek(0, os.SEEK_END)
                handle.seek(max(0, end - _TAIL_BYTES))
                tail = handle.read()
        except FileNotFoundError:
            return None
        for line in reversed(tail.split(b"\n")):
            try:
                return Checkpoint(**json.loads(line))
            except (ValueError, TypeError):
                continue  # blank, torn, or cut by the tail's start
        return None

    def _append(self, checkpoint: Checkpoint) -> None:
        self.checkpoint_path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(asdict(checkpoint), sort_keys=True) + "\n"
        try:
            with self.checkpoint_path.open("a", encoding="utf-8") as handle:
                # Several processes may checkpoint at once; whole lines only.
                fcntl.flock(handle, fcntl.LOCK_EX)
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise CheckpointError(
                f"Cannot write the checkpoint file {self.checkpoint_path}: {exc}. "
                "Check its permissions or set `audit.checkpoint_path`."
            ) from exc

    def _load_or_create_key(self) -> Ed25519PrivateKey:
        path = self.key_path
        if path.exists():
            try:
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            except (ValueError, TypeError, OSError) as exc:
                raise CheckpointError(
                    f"The audit signing key {path} cannot be read ({exc}). Restore it from "
                    "your backup; a new key cannot vouch for old checkpoints."
                ) from exc
            if not isinstance(key, Ed25519PrivateKey):
                raise CheckpointError(f"The audit signing key {path} is not an Ed25519 key.")
            return key
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
        except FileExistsError:
            return self._load_or_create_key()  # another process created it first
        except OSError as exc:
            raise CheckpointError(f"Cannot create the audit signing key {path}: {exc}") from exc
        return key


def signature_valid(checkpoint: Checkpoint, trusted_keys: set[str]) -> bool:
    if checkpoint.public_key not in trusted_keys:
        return False
    try:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(checkpoint.public_key))
        public.verify(bytes.fromhex(checkpoint.signature), checkpoint.message())
    except (InvalidSignature, ValueError):
        return False
    return True
