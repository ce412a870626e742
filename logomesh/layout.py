"""Where LogoMesh keeps its files in a workspace, and how an error points into them.

``logomesh.toml`` and the ``.logomesh/`` state folder are named by configuration loading,
DevShell (which keeps its own state out of reach of file commands), plugin discovery and
``workspace.init``; :func:`line_of_key` lets both configuration and plugin manifests say
which line of a TOML file holds a bad value. They are core, importing only the standard
library, so that a feature needs no part of ``config`` (which imports the features'
settings sections) to name them.
"""

from __future__ import annotations

import re
from pathlib import Path

WORKSPACE_FILE = "logomesh.toml"
STATE_DIR = ".logomesh"
STATE_IGNORE = "# LogoMesh state: database, backups, spool. Never commit it.\n*\n"


def make_state_dir(state_dir: Path) -> bool:
    """The state folder with its ``.gitignore``; True when this call created the folder.

    One function for ``workspace.init`` and the engine's first use of the database, so a
    workspace's first command (whichever it is) never leaves state git would commit.
    """
    created = not state_dir.is_dir()
    state_dir.mkdir(parents=True, exist_ok=True)
    ignore = state_dir / ".gitignore"
    if not ignore.exists():
        ignore.write_text(STATE_IGNORE, encoding="utf-8")
    return created


def line_of_key(path: Path, dotted: str) -> int | None:
    """Best-effort line number of a dotted key in a TOML file, for error messages."""
    *tables, leaf = dotted.split(".")
    table = ".".join(tables)
    current = ""
    key_line = re.compile(rf"^\s*[\"']?{re.escape(leaf)}[\"']?\s*=")
    dotted_line = re.compile(rf"^\s*{re.escape(dotted)}\s*=")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for number, line in enumerate(lines, start=1):
        header = re.match(r"^\s*\[+\s*([^\]]+?)\s*\]+", line)
        if header:
            current = header.group(1)
            if current == dotted:  # the key is a whole table, e.g. a misspelt section
                return number
        elif (current == table and key_line.match(line)) or dotted_line.match(line):
            return number
    return None
