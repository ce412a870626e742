"""Paths a person gives a DevShell command, resolved inside the workspace or refused.

Every path argument (``files.read path=...``, ``git.diff path=...``, ``tests.run path=...``)
passes through :func:`resolve_in_workspace` before anything opens or runs it. The path is
resolved the way the kernel would (``..`` folded, every symlink followed), and the result
must lie inside the workspace root: ``../secrets``, ``/etc/passwd`` and a symlink pointing
out of the tree are refused with a message naming the argument and the root.

LogoMesh's own state directory (``.logomesh/``: the database, backups, perhaps the signing
key) is refused too; DevShell serves the project, not the engine's records.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from logomesh.errors import InvalidArgumentsError
from logomesh.layout import STATE_DIR


@dataclass(frozen=True, slots=True)
class WorkspacePath:
    """A path known to lie inside the workspace: absolute, and relative to the root."""

    root: Path
    absolute: Path

    @property
    def relative(self) -> str:
        """POSIX form relative to the root (``.`` for the root itself)."""
        return self.absolute.relative_to(self.root).as_posix()

    @property
    def arg(self) -> str:
        """The relative path, safe as an argv element even where ``--`` is not honoured."""
        rel = self.relative
        return f"./{rel}" if rel.startswith("-") else rel


def resolve_in_workspace(
    root: Path, value: str, *, argument: str = "path", must_exist: bool = True
) -> WorkspacePath:
    """Resolve ``value`` (relative to ``root``, or absolute) and insist it stays inside."""
    if "\0" in value:
        raise InvalidArgumentsError(f"`{argument}` contains a NUL byte.")
    if not value.strip():
        raise InvalidArgumentsError(f"`{argument}` is empty; give a path inside {root}.")
    root = root.resolve()
    given = Path(value)
    with contextlib.suppress(RuntimeError):  # ``~nosuchuser``: keep it as a literal name
        given = given.expanduser()
    candidate = given if given.is_absolute() else root / given
    # strict=False: a path that does not exist yet still has its symlinks and ``..`` resolved.
    resolved = candidate.resolve(strict=False)
    if not resolved.is_relative_to(root):
        how = " through a symbolic link" if _via_symlink(candidate, root) else ""
        raise InvalidArgumentsError(
            f"`{argument}` = {value!r} leads outside the workspace{how} (to {resolved}); "
            f"DevShell only works inside {root}. Give a path relative to it."
        )
    if resolved.relative_to(root).parts[:1] == (STATE_DIR,):
        raise InvalidArgumentsError(
            f"`{argument}` = {value!r} is inside {STATE_DIR}/, LogoMesh's own state, which "
            "DevShell does not read; use the audit and db commands for it."
        )
    if must_exist and not resolved.exists():
        raise InvalidArgumentsError(
            f"`{argument}` = {value!r}: no such file or directory in {root}."
        )
    return WorkspacePath(root, resolved)


def _via_symlink(candidate: Path, root: Path) -> bool:
    """Whether a symlink (rather than ``..`` or an absolute path) is what led outside."""
    lexical = Path(os.path.normpath(candidate))
    return lexical.is_relative_to(root)
