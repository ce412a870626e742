"""Finding the program behind ``argv[0]``, and saying how to install it when it is missing.

A missing tool is the most common DevShell failure (no ``ruff`` in this virtualenv, no
``go`` on this laptop), so it gets its own error, :class:`~logomesh.errors.ToolMissingError`,
whose message names the tool, where DevShell looked, and how to install it; never a
``FileNotFoundError`` traceback. The lookup uses the ``PATH`` of the child's environment
(what the child itself would see), so the answer matches what would run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from logomesh.errors import ToolMissingError

INSTALL_HINTS: dict[str, str] = {
    "git": "install git (apt install git, brew install git, or https://git-scm.com/downloads)",
    "rg": "install ripgrep (apt install ripgrep, brew install ripgrep, cargo install ripgrep)",
    "ruff": "install ruff into the project's virtualenv (pip install ruff) or as a tool "
    "(pipx install ruff, uv tool install ruff)",
    "pytest": "install pytest into the project's virtualenv (pip install pytest)",
    "python": "install Python 3 (https://www.python.org/downloads/) or create the project's .venv",
    "python3": "install Python 3 (https://www.python.org/downloads/) or create the project's .venv",
    "npm": "install Node.js, which includes npm (https://nodejs.org/)",
    "node": "install Node.js (https://nodejs.org/)",
    "eslint": "install it in the project (npm install --save-dev eslint)",
    "go": "install Go (https://go.dev/dl/)",
    "cargo": "install Rust with rustup (https://rustup.rs/)",
}


def locate(program: str, *, search_path: str, cwd: Path) -> str:
    """The absolute path of ``program``, or ToolMissingError saying how to get it.

    A bare name is looked up on ``search_path``; a name with a slash is taken relative to
    ``cwd`` (``./scripts/check.sh``, ``node_modules/.bin/eslint``).
    """
    if os.sep in program:
        candidate = Path(program) if Path(program).is_absolute() else cwd / program
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
        state = "is not executable" if candidate.is_file() else "does not exist"
        raise ToolMissingError(
            f"`{program}` {state} (looked at {candidate}). Check the path, or make the file "
            f"executable (chmod +x {program}).",
            tool=program,
        )
    found = shutil.which(program, path=search_path)
    if found is None:
        raise ToolMissingError(missing_message(program, search_path), tool=program)
    return found


def missing_message(program: str, search_path: str) -> str:
    name = Path(program).name
    hint = INSTALL_HINTS.get(name, f"install {name}, or add the directory that holds it to PATH")
    where = ", ".join(part for part in search_path.split(os.pathsep) if part) or "(empty PATH)"
    return f"`{name}` is not installed or not on PATH (looked in {where}). To fix: {hint}."


def project_tool(root: Path, name: str, *, restricted: bool = False) -> str:
    """The project's own copy of a tool when it has one (its .venv, node_modules), else ``name``.

    A project pins its linter's version; running that copy gives the answers its CI gives.
    In a restricted workspace (``Settings.workspace_restricted``) that copy is the
    workspace's code, which must not run: the tool on PATH is used instead.
    """
    if restricted:
        return name
    for directory in (".venv/bin", "venv/bin", "node_modules/.bin"):
        candidate = root / directory / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return name
