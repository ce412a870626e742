"""What a mounted MCP server may read of its own software: the *installation* of its program
and of the script files its argv names, never the data folders its argv names.

Why: a server's argv mixes its code (``node .../dist/index.js``) with its data
(``server-filesystem /home/me``), and granting every path named there would let
``server-filesystem /`` read everything, past ``permissions.workspace``. So only code is
granted, and as the smallest folder it runs from:

- a file inside a Python venv (a folder holding ``pyvenv.cfg``): the venv, and the base
  Python's installation its ``home`` names (where the standard library is);
- a file inside ``node_modules``: the outermost ``node_modules`` folder (a package's own
  dependencies may sit in nested ones, and ``.bin`` links point anywhere in it);
- the program (argv[0]) elsewhere, in a ``bin`` folder beside a ``lib`` folder (``/usr/local``,
  a pyenv or nvm version): that prefix, unless it is the user's home or ``~/.local``, which
  hold far more than programs;
- else the file's own folder.

A folder in argv, or a file that is neither the program nor a script (by its suffix or its
executable bit), is data: reaching it is for ``permissions.workspace`` to grant.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

SCRIPT_SUFFIXES = frozenset({".py", ".pyz", ".js", ".mjs", ".cjs", ".ts", ".mts", ".jar"})


def resolve_program(argv: tuple[str, ...], workspace: Path) -> tuple[str, ...]:
    """``argv`` with a relative program path (``.venv-tools/bin/x``: argv[0] holding "/")
    made absolute against the workspace, where the configuration that names it lives; the
    server's own working directory is its private folder, not the workspace."""
    if not argv or "/" not in argv[0] or os.path.isabs(argv[0]):  # noqa: PTH117
        return argv
    return (str(workspace / argv[0]), *argv[1:])


def installations(argv: tuple[str, ...]) -> set[str]:
    """The folders a server's program and scripts run from (see the module docstring)."""
    granted: set[str] = set()
    program = shutil.which(argv[0]) if argv else None
    if program:
        granted |= _installation(Path(program).resolve(), program=True)
        interpreter = _interpreter(Path(program))
        if interpreter is not None:  # `#!/usr/bin/env node`: the node found on PATH
            granted |= _installation(interpreter.resolve(), program=True)
    for arg in argv[1:]:
        if os.path.isabs(arg) and _is_script(Path(arg)):  # noqa: PTH117
            granted |= _installation(Path(arg).resolve(), program=False)
    return granted


def _interpreter(program: Path) -> Path | None:
    """The program a script's ``#!`` line runs (through ``env`` too), if it names one."""
    try:
        with program.open("rb") as file:
            first = file.readline(256)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = first[2:].decode("utf-8", "replace").split()
    if words and Path(words[0]).name == "env":
        words = [word for word in words[1:] if not word.startswith("-")]
    found = shutil.which(words[0]) if words else None
    return Path(found) if found else None


def _is_script(path: Path) -> bool:
    try:
        if not path.is_file():
            return False
        return path.suffix in SCRIPT_SUFFIXES or os.access(path, os.X_OK)
    except OSError:
        return False


def _installation(path: Path, *, program: bool) -> set[str]:
    for parent in path.parents:
        if (parent / "pyvenv.cfg").is_file():
            return {str(parent), *_venv_base(parent)}
    modules = [parent for parent in path.parents if parent.name == "node_modules"]
    if modules:
        return {str(modules[-1])}  # parents run outwards: the last is the outermost
    prefix = path.parent.parent
    if program and path.parent.name == "bin" and (prefix / "lib").is_dir():
        home = Path.home().resolve()
        if prefix not in (home, home / ".local"):
            return {str(prefix)}
    return {str(path.parent)}


def _venv_base(venv: Path) -> set[str]:
    """The base Python's installation: the parent of ``home`` (its ``bin``) in pyvenv.cfg."""
    try:
        lines = (venv / "pyvenv.cfg").read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return set()
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() == "home" and value.strip():
            return {str(Path(value.strip()).resolve().parent)}
    return set()
