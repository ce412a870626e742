"""Finding plugins: the workspace's ``plugins/`` folder, folders named in configuration,
installed Python packages (entry point group ``logomesh.plugins``), and MCP servers declared
under ``[[plugins.mcp]]``.

Discovery only reads manifests; nothing is started or imported. A manifest that does not
validate is still listed, with its error, so ``logomesh plugin list`` shows what is wrong.
Until the workspace is trusted (``settings.workspace_trusted``, see :mod:`logomesh.trust`)
no folder inside it is read, so a cloned repository's plugins never start by themselves.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from logomesh.errors import PluginError, PluginManifestError
from logomesh.layout import WORKSPACE_FILE
from logomesh.plugins.manifest import MANIFEST_FILE, Manifest, load_manifest, parse_manifest
from logomesh.plugins.settings import PLUGINS_FOLDER
from logomesh.trust import manifests_in

if TYPE_CHECKING:
    from logomesh.config import Settings

ENTRY_POINT_GROUP = "logomesh.plugins"
MCP_FOLDER = "mcp"  # under the workspace's state folder: one folder per mounted server


@dataclass(frozen=True, slots=True)
class Discovered:
    """One plugin found, valid or not."""

    name: str
    source: str
    folder: Path | None
    manifest: Manifest | None = None
    error: PluginError | None = None


def discover(settings: Settings) -> list[Discovered]:
    found: list[Discovered] = []
    own = settings.workspace / PLUGINS_FOLDER
    for folder in [own, *_configured(settings)]:
        if settings.workspace_trusted or not _inside(folder, settings.workspace):
            found.extend(_scan(folder, "workspace" if folder == own else "path"))
    if settings.plugins.entry_points:
        found.extend(_from_entry_points())
    found.extend(_from_config(settings))
    return _without_duplicates(found)


def _configured(settings: Settings) -> list[Path]:
    return [
        path if path.is_absolute() else settings.workspace / path
        for path in (p.expanduser() for p in settings.plugins.paths)
    ]


def _inside(folder: Path, workspace: Path) -> bool:
    return folder.resolve().is_relative_to(workspace.resolve())


def _scan(folder: Path, source: str) -> list[Discovered]:
    return [read_folder(file.parent, source) for file in manifests_in(folder, MANIFEST_FILE)]


def read_folder(folder: Path, source: str) -> Discovered:
    """One plugin folder's manifest, valid or not."""
    try:
        manifest = load_manifest(folder / MANIFEST_FILE)
    except PluginManifestError as exc:
        return Discovered(folder.name, source, folder, error=exc)
    return Discovered(manifest.name, source, folder, manifest)


def _from_entry_points() -> list[Discovered]:
    """Installed packages name a module whose folder holds the manifest; not imported."""
    found = []
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            spec = importlib.util.find_spec(entry.module)
        except (ImportError, ValueError):
            spec = None
        locations = list(spec.submodule_search_locations or []) if spec else []
        if not locations:
            error = PluginManifestError(
                f"Entry point {entry.name} = {entry.value!r} ({ENTRY_POINT_GROUP}) does not name "
                f"an importable package containing {MANIFEST_FILE}."
            )
            found.append(Discovered(entry.name, "entry point", None, error=error))
            continue
        found.append(read_folder(Path(locations[0]), f"entry point {entry.name}"))
    return found


def _from_config(settings: Settings) -> list[Discovered]:
    origin = settings.workspace / WORKSPACE_FILE
    found = []
    for table in settings.plugins.mcp:
        values: dict[str, Any] = {"version": "external", "runtime": "mcp", **table}
        name = str(values.get("name", "(unnamed)"))
        try:
            manifest = parse_manifest(_mounted_defaults(values, origin), origin)
        except PluginManifestError as exc:
            found.append(Discovered(name, "config", None, error=exc))
            continue
        found.append(
            Discovered(manifest.name, "config", mcp_folder(settings, manifest.name), manifest)
        )
    return found


def mcp_folder(settings: Settings, name: str) -> Path:
    """The private folder of a server mounted from configuration: its working directory,
    HOME and the one folder it may write. Not the workspace, which it reaches only as its
    ``permissions.workspace`` says (the sandbox creates the folder when it starts)."""
    return settings.state_dir / MCP_FOLDER / name


# A server nobody wrote for LogoMesh: Node 22 and newer reserve more address space at start
# than the plugins' 512 MB (RLIMIT_DATA) allows, and abort before running anything.
MOUNTED_MEMORY_MB = 1024


def _mounted_defaults(values: dict[str, Any], origin: Path) -> dict[str, Any]:
    limits = values.get("limits")
    if limits is None or (isinstance(limits, dict) and "memory_mb" not in limits):
        values = {**values, "limits": {**(limits or {}), "memory_mb": MOUNTED_MEMORY_MB}}
    return _network_implied(values, origin)


def _network_implied(values: dict[str, Any], origin: Path) -> dict[str, Any]:
    """A remote server is reached over the network: its ``network`` permission is implied
    (and shown by ``plugin list``), and saying ``network = false`` beside a URL is an error."""
    if "url" not in values:
        return values
    permissions = values.get("permissions") or {}
    if not isinstance(permissions, dict):
        return values  # the manifest's own validation says what is wrong
    if permissions.get("network") is False:
        raise PluginManifestError(
            f"{origin}: [[plugins.mcp]] {values.get('name')!r} has a `url` and "
            "`permissions.network = false`: a remote server is reached over the network. "
            "Remove `network = false`."
        )
    return {**values, "permissions": {**permissions, "network": True}}


def _without_duplicates(found: list[Discovered]) -> list[Discovered]:
    seen: dict[str, Discovered] = {}
    result = []
    for item in found:
        first = seen.get(item.name)
        if first is not None and item.manifest is not None:
            error = PluginManifestError(
                f"Two plugins are named {item.name!r}: {_where(first)} and {_where(item)}. "
                "Rename one (its manifest's `name`) or remove it."
            )
            result.append(Discovered(item.name, item.source, item.folder, error=error))
            continue
        seen.setdefault(item.name, item)
        result.append(item)
    return result


def _where(item: Discovered) -> str:
    return str(item.folder) if item.folder else item.source
