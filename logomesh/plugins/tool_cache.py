"""The tools a plugin's server listed when it last ran, kept in the workspace's state folder.

With ``expose = "all"`` a server's commands are its tools, and only the server knows them.
Keeping the last list lets ``logomesh commands`` and natural language see those commands
before the server is started, as they see a manifest's listed commands, so a command still
starts only the server it needs. The list is a hint, never a grant: risks and permissions
come from the manifest (:mod:`.bindings`), the server's live ``tools/list`` replaces it at
every start, and a list written for another command line or URL is ignored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from logomesh.layout import STATE_DIR
from logomesh.plugins.bindings import Tool
from logomesh.plugins.manifest import Manifest

logger = logging.getLogger(__name__)

CACHE_FOLDER = "plugin-tools"


def cache_file(workspace: Path, manifest: Manifest) -> Path:
    return workspace / STATE_DIR / CACHE_FOLDER / f"{manifest.name}.json"


def server_identity(manifest: Manifest) -> str:
    """What the list belongs to: the server's argv or URL (not its headers: they may hold a
    secret) and the plugin's version."""
    what = {"command": list(manifest.command), "url": manifest.url, "version": manifest.version}
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()


def load_tools(workspace: Path, manifest: Manifest) -> list[Tool] | None:
    """The last list for this very server, or None (never listed, changed, or unreadable)."""
    path = cache_file(workspace, manifest)
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.info("plugin %s: ignoring its tool list %s (%s)", manifest.name, path, exc)
        return None
    if not isinstance(stored, dict) or stored.get("server") != server_identity(manifest):
        return None
    try:
        return [Tool.from_listing(item) for item in stored["tools"]]
    except (KeyError, TypeError, AttributeError) as exc:
        logger.info("plugin %s: ignoring its tool list %s (%s)", manifest.name, path, exc)
        return None


def save_tools(
    workspace: Path, manifest: Manifest, tools: list[Tool], protocol_version: str | None
) -> None:
    """Replace the list atomically; a workspace that cannot be written keeps none."""
    path = cache_file(workspace, manifest)
    body: dict[str, Any] = {
        "server": server_identity(manifest),
        "protocol_version": protocol_version,
        "tools": [tool.to_dict() for tool in tools],
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(body, indent=1, sort_keys=True), encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        logger.info("plugin %s: tool list not kept in %s (%s)", manifest.name, path, exc)
