"""``logomesh-plugin.toml``: what a plugin is, what it contributes and what it may do.

The manifest, not the plugin process, is the source of trust: a command's risk and
permission, the events a plugin may publish, and the commands it may call all come from
here, so nothing a plugin answers at run time can widen them. Validation errors name the
file, the line and the key, and say how to fix it.
"""

from __future__ import annotations

import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from logomesh.commands.values import RiskLevel
from logomesh.errors import PluginManifestError
from logomesh.layout import line_of_key
from logomesh.plugins.settings import MANIFEST_FILE

API_VERSION = 1
_DOTTED = r"^[a-z][a-z0-9_-]*(\.[a-z0-9_*-]+)*$"


class Runtime(StrEnum):
    PYTHON = "python"
    NODE = "node"
    MCP = "mcp"


class WorkspaceAccess(StrEnum):
    NONE = "none"
    READ = "read"
    WRITE = "write"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CommandContribution(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+$")
    summary: str = Field(min_length=1)
    risk: RiskLevel = RiskLevel.READ
    permission: str | None = Field(default=None, description="default: plugin.<plugin name>")
    examples: tuple[str, ...] = ()
    timeout_s: float | None = Field(default=None, gt=0, le=3600)


class CodeActionContribution(_Strict):
    command: str
    title: str = Field(min_length=1)
    files: tuple[str, ...] = Field(min_length=1, description="Glob patterns, e.g. *.py")


class EventContribution(_Strict):
    event: str = Field(pattern=_DOTTED)


class Contributions(_Strict):
    commands: tuple[CommandContribution, ...] = ()
    code_actions: tuple[CodeActionContribution, ...] = ()
    events: tuple[EventContribution, ...] = ()


class Permissions(_Strict):
    """What the plugin may do. Everything is denied unless listed here."""

    workspace: WorkspaceAccess = WorkspaceAccess.NONE
    network: bool = False
    llm: bool = False
    call: tuple[str, ...] = Field(default=(), description="Commands it may call (prefix.* ok).")
    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()

    def may_call(self, command: str) -> bool:
        return any(_matches(pattern, command) for pattern in self.call)

    def may_publish(self, event: str) -> bool:
        return any(_matches(pattern, event) for pattern in self.publish)

    def may_receive(self, event: str) -> bool:
        return any(_matches(pattern, event) for pattern in self.subscribe)


class Limits(_Strict):
    cpu_s: int = Field(default=300, gt=0, description="CPU seconds over the process's life.")
    memory_mb: int = Field(default=512, gt=0)
    processes: int = Field(default=64, gt=0)
    open_files: int = Field(default=256, gt=0)
    file_size_mb: int = Field(default=64, gt=0)
    call_timeout_s: float = Field(default=60.0, gt=0, le=3600)


class Manifest(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")
    version: str = Field(min_length=1)
    runtime: Runtime
    api_version: int = API_VERSION
    description: str = ""
    entry: str | None = Field(default=None, description="python/node: the file to run.")
    command: tuple[str, ...] = Field(default=(), description="mcp: the server's argv.")
    contributes: Contributions = Contributions()
    permissions: Permissions = Permissions()
    limits: Limits = Limits()

    @model_validator(mode="after")
    def _entry_or_command(self) -> Manifest:
        if self.api_version != API_VERSION:
            raise ValueError(
                f"api_version {self.api_version} is not supported (this LogoMesh speaks "
                f"{API_VERSION})"
            )
        if self.runtime is Runtime.MCP:
            if not self.command:
                raise ValueError("runtime 'mcp' needs `command`, the server's argv as a list")
        elif not self.entry:
            raise ValueError(f"runtime {self.runtime.value!r} needs `entry`, e.g. main.py")
        return self

    def permission_for(self, command: CommandContribution) -> str:
        return command.permission or f"plugin.{self.name}"


def load_manifest(path: Path) -> Manifest:
    """Read and validate one manifest; raise PluginManifestError naming file, line and key."""
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PluginManifestError(f"{path}: not valid TOML ({exc}). Fix the syntax there.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PluginManifestError(f"{path}: cannot be read ({exc}).") from exc
    return parse_manifest(values, path)


def parse_manifest(values: dict[str, Any], path: Path) -> Manifest:
    try:
        manifest = Manifest.model_validate(values)
    except ValidationError as exc:
        raise PluginManifestError(_explain(exc, path)) from exc
    entry = manifest.entry
    if entry is not None:
        target = (path.parent / entry).resolve()
        if not target.is_relative_to(path.parent.resolve()):
            raise PluginManifestError(
                f"{path}: `entry` = {entry!r} points outside the plugin's folder; name a file "
                "inside it."
            )
        if not target.is_file():
            raise PluginManifestError(
                f"{path}: `entry` = {entry!r} does not exist in {path.parent}. Create it or fix "
                "the name."
            )
    return manifest


def _explain(exc: ValidationError, path: Path) -> str:
    problems = []
    for error in exc.errors():
        parts = [str(part) for part in error["loc"]]
        dotted = ".".join(part for part in parts if not part.isdigit()) or "(manifest)"
        line = line_of_key(path, dotted) if dotted != "(manifest)" else None
        where = f"{path}:{line}" if line else str(path)
        if error["type"] == "extra_forbidden":
            hint = "unknown key; check its spelling against docs/plugins.md"
        elif error["type"] == "missing":
            hint = "required, but missing"
        else:
            hint = error["msg"][0].lower() + error["msg"][1:]
            hint = hint.removeprefix("value error, ")
        problems.append(f"{where}: `{dotted}`: {hint}")
    return "Invalid plugin manifest:\n  " + "\n  ".join(problems)


def _matches(pattern: str, name: str) -> bool:
    if pattern.endswith(".*"):
        return name.startswith(pattern[:-1])
    return pattern == name or bool(pattern == "*")


__all__ = [
    "MANIFEST_FILE",
    "CommandContribution",
    "Manifest",
    "Permissions",
    "Runtime",
    "load_manifest",
]
