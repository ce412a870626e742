"""Workspace trust: which folders' own code the user has agreed to run, as they were then.

Opening a folder must not run its code. A workspace's ``logomesh.toml`` can declare
commands (``[[devshell.commands]]``), MCP server command lines (``[[plugins.mcp]]``) and
plugin folders, and its ``plugins/`` folder holds programs; none of that takes effect until
the user trusts the workspace (``logomesh trust``). A decision is bound to the resolved
workspace path and to a SHA-256 digest of the files that declare that code (the workspace
file and the plugin manifests), so a ``git pull`` that changes any of them asks again.

Decisions live in the user's config directory (``trusted-workspaces.json``), never inside a
workspace, so nothing a repository contains can trust itself. The file is written atomically
with mode 0600, under a lock so two processes trusting at once both keep their decision. A
file that cannot be read, does not parse, or that others may write is an error, never a
reason to trust anything.

This module imports nothing of LogoMesh but its errors: ``config`` uses it to decide, the
``workspace.trust`` command uses it to record.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import stat
import tempfile
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from logomesh.errors import ConfigError

TRUST_FILE = "trusted-workspaces.json"
# How to trust a folder, in every adapter's words (an editor passes its own decision).
HOW_TO_TRUST = (
    "trust the folder: VS Code's 'Manage Workspace Trust' (Trust), or `logomesh trust` in "
    "it (an editor set up with `trusted: false` must drop that setting too)"
)
_FORMAT = 1


@dataclass(frozen=True, slots=True)
class TrustSubject:
    """What a trust decision is about: a workspace, and the files declaring its code."""

    workspace: Path
    workspace_file: Path | None
    manifests: tuple[Path, ...]
    digest: str

    @property
    def files(self) -> tuple[Path, ...]:
        own = (self.workspace_file,) if self.workspace_file else ()
        return (*own, *self.manifests)

    def describe_files(self) -> list[str]:
        return [_label(self.workspace, path) for path in self.files]

    def plugin_folders(self) -> list[str]:
        return [_label(self.workspace, path.parent) for path in self.manifests]


@dataclass(frozen=True, slots=True)
class TrustRecord:
    """One stored decision: the digest that was trusted, when, and by whom."""

    digest: str
    trusted_at: str
    by: str


@dataclass(frozen=True, slots=True)
class TrustState:
    """Whether a workspace is trusted now, and why, for settings, notices and ``status``."""

    trusted: bool
    reason: str
    subject: TrustSubject
    store: Path
    # The stored decision was for other contents: the user trusted it, then it changed.
    changed: bool = False


def workspace_trust_subject(
    workspace: Path, ws_file: Path, plugins_folder: Path, manifest_name: str
) -> TrustSubject:
    """The files declaring a workspace's own code (its ``ws_file``, the plugin manifests in
    ``plugins_folder`` and in the plugin paths ``ws_file`` names) and their digest."""
    own = ws_file if ws_file.is_file() else None
    manifests: list[Path] = []
    for root in [plugins_folder, *_named_plugin_paths(workspace, ws_file)]:
        manifests.extend(manifests_in(root, manifest_name))
    unique = tuple(dict.fromkeys(manifests))
    digest = digest_files(workspace, [*([own] if own else []), *unique])
    return TrustSubject(workspace, own, unique, digest)


def manifests_in(folder: Path, manifest_name: str) -> list[Path]:
    """The plugin manifests in ``folder``: its own, or else those of its sub-folders."""
    if (folder / manifest_name).is_file():  # a path may name one plugin's own folder
        return [folder / manifest_name]
    try:
        children = sorted(folder.iterdir()) if folder.is_dir() else []
    except OSError:
        return []
    return [child / manifest_name for child in children if (child / manifest_name).is_file()]


def _named_plugin_paths(workspace: Path, ws_file: Path) -> list[Path]:
    try:
        values = tomllib.loads(ws_file.read_text(encoding="utf-8")) if ws_file.is_file() else {}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []  # its bytes are in the digest; reading it as a layer reports the error
    plugins = values.get("plugins", {})
    paths = plugins.get("paths", []) if isinstance(plugins, dict) else []
    if not isinstance(paths, list):
        return []
    named = (Path(p).expanduser() for p in paths if isinstance(p, str))
    return [p if p.is_absolute() else workspace / p for p in named]


def untrusted_notice(state: TrustState, withheld: Sequence[str]) -> str:
    """What to tell a person, once, about the code an untrusted workspace did not run."""
    why = "it changed since it was trusted" if state.changed else "it is not trusted"
    return (
        f"Workspace {state.subject.workspace}: its own plugins and commands are off because "
        f"{why} ({'; '.join(withheld)}). Built-in commands work as usual. Review those files, "
        "then run `logomesh trust` there to turn them on (see docs/trust.md)."
    )


def digest_files(workspace: Path, files: Sequence[Path]) -> str:
    """SHA-256 over each file's place and bytes; a file added, removed or edited changes it."""
    hasher = hashlib.sha256(b"logomesh-trust-v1\0")
    for path in sorted(files):
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"{path} cannot be read to check the workspace's trust ({exc.strerror}); "
                "fix its permissions or remove it.",
                code="config.trust",
            ) from exc
        label = _label(workspace, path).encode()
        hasher.update(len(label).to_bytes(8, "big") + label)
        hasher.update(len(content).to_bytes(8, "big") + content)
    return f"sha256:{hasher.hexdigest()}"


def _label(workspace: Path, path: Path) -> str:
    return str(path.relative_to(workspace)) if path.is_relative_to(workspace) else str(path)


class TrustStore:
    """The user's trust decisions, one JSON file keyed by resolved workspace path."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lookup(self, subject: TrustSubject) -> TrustState:
        record = self._read().get(str(subject.workspace))
        if record is None:
            return TrustState(False, "never trusted", subject, self.path)
        if record.digest != subject.digest:
            why = (
                f"trusted on {record.trusted_at}, but logomesh.toml or a plugin manifest "
                "changed since"
            )
            return TrustState(False, why, subject, self.path, changed=True)
        return TrustState(
            True, f"trusted on {record.trusted_at} by {record.by}", subject, self.path
        )

    def trust(self, subject: TrustSubject, by: str) -> TrustRecord | None:
        """Record ``subject`` as trusted; return the decision it replaces, if any."""
        now = datetime.now(UTC).isoformat(timespec="seconds")
        record = TrustRecord(subject.digest, now, by)
        with self._locked():
            records = self._read()
            previous = records.get(str(subject.workspace))
            records[str(subject.workspace)] = record
            self._write(records)
        return previous

    def revoke(self, workspace: Path) -> TrustRecord | None:
        """Forget the decision for ``workspace``; return it (None: there was none)."""
        with self._locked():
            records = self._read()
            previous = records.pop(str(workspace), None)
            if previous is not None:
                self._write(records)
        return previous

    # -- the file --------------------------------------------------------------------------

    def _read(self) -> dict[str, TrustRecord]:
        try:
            info = self.path.stat()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise self._broken(f"cannot be read ({exc.strerror})") from exc
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) or info.st_uid != os.getuid():
            raise self._broken(
                "may be written by other users, who could trust any folder with it",
                fix=f"run `chmod 600 {self.path}` (and check its owner)",
            )
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return _parse(data)
        except (OSError, UnicodeDecodeError, ValueError, TypeError, KeyError) as exc:
            raise self._broken(f"is not a valid trust file ({exc})") from exc

    def _write(self, records: dict[str, TrustRecord]) -> None:
        data = {
            "format": _FORMAT,
            "workspaces": {
                ws: {"digest": r.digest, "trusted_at": r.trusted_at, "by": r.by}
                for ws, r in sorted(records.items())
            },
        }
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, name = tempfile.mkstemp(prefix=".trust-", dir=self.path.parent)  # created 0600
        tmp = Path(name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=2)
                out.write("\n")
                out.flush()
                os.fsync(out.fileno())
            tmp.replace(self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        _fsync_dir(self.path.parent)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time, so concurrent ``logomesh trust`` runs lose no decision."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = os.open(self.path.with_name(f".{TRUST_FILE}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
        finally:
            os.close(lock)

    def _broken(self, what: str, fix: str | None = None) -> ConfigError:
        fix = fix or (
            "fix the JSON, or delete the file and run `logomesh trust` again in each workspace "
            "you trust"
        )
        return ConfigError(
            f"The workspace trust file {self.path} {what}; no workspace is trusted until it is "
            f"fixed: {fix}.",
            code="config.trust",
        )


def _parse(data: Any) -> dict[str, TrustRecord]:
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise ValueError(f'expected a JSON object with "format": {_FORMAT}')
    workspaces = data["workspaces"]
    if not isinstance(workspaces, dict):
        raise ValueError('"workspaces" must be an object')
    records = {}
    for ws, entry in workspaces.items():
        fields = (entry["digest"], entry["trusted_at"], entry["by"])
        if not all(isinstance(value, str) for value in fields):
            raise ValueError(f"the entry for {ws} must hold strings")
        if not str(fields[0]).startswith("sha256:"):
            raise ValueError(f"the entry for {ws} has no sha256 digest")
        records[ws] = TrustRecord(*fields)
    return records


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
