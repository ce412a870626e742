"""``logomesh-plugin.toml``: what a plugin is, what it contributes and what it may do.

The manifest, not the plugin process, is the source of trust: a command's risk and
permission, the events a plugin may publish, and the commands it may call all come from
here, so nothing a plugin answers at run time can widen them. Validation errors name the
file, the line and the key, and say how to fix it.
"""

from __future__ import annotations

import re
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from logomesh.commands.values import RiskLevel
from logomesh.errors import PluginManifestError
from logomesh.layout import line_of_key
from logomesh.plugins.settings import MANIFEST_FILE
from logomesh.toml_errors import explain_toml_error

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


COMMAND_NAME = r"^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+$"
# MCP's tool names (2025-11-25: 1-128 of A-Z a-z 0-9 _ - .), a little wider for older servers.
TOOL_NAME = r"^[A-Za-z0-9_./-]{1,128}$"


class Expose(StrEnum):
    LISTED = "listed"  # only the tools under contributes.commands become commands
    ALL = "all"  # every tool the server lists; the unlisted ones at `default_risk`


class CommandContribution(_Strict):
    """One command, served by one tool. ``name`` is the command, or (not dotted) the tool,
    whose command is then ``<plugin>.<tool>``; ``tool`` defaults to ``name``."""

    name: str | None = Field(default=None, pattern=TOOL_NAME)
    tool: str | None = Field(default=None, pattern=TOOL_NAME)
    summary: str = Field(default="", description="default: the tool's own description")
    risk: RiskLevel = RiskLevel.READ
    permission: str | None = Field(default=None, description="default: plugin.<plugin name>")
    examples: tuple[str, ...] = ()
    timeout_s: float | None = Field(default=None, gt=0, le=3600)

    @model_validator(mode="after")
    def _names_a_tool(self) -> CommandContribution:
        if self.name is None and self.tool is None:
            raise ValueError("give `name` (the command, or the tool's name) or `tool`")
        return self

    @property
    def tool_name(self) -> str:
        tool = self.tool or self.name
        assert tool is not None  # the validator above
        return tool

    @property
    def risk_given(self) -> bool:
        return "risk" in self.model_fields_set


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
    url: str | None = Field(default=None, description="mcp: a Streamable HTTP server's URL.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="mcp url: HTTP headers; ${env:NAME} reads a variable."
    )
    expose: Expose = Expose.LISTED
    default_risk: RiskLevel | None = Field(
        default=None, description="expose = 'all': the risk of tools not listed."
    )
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
            if bool(self.command) == bool(self.url):
                raise ValueError(
                    "an MCP server needs exactly one of `command` (its argv as a list, for a "
                    'stdio server) and `url` (e.g. "https://example.com/mcp", for a remote one)'
                )
            if self.url is not None:
                check_server_url(self.url)
        elif not self.entry:
            raise ValueError(f"runtime {self.runtime.value!r} needs `entry`, e.g. main.py")
        elif self.url is not None or self.headers:
            raise ValueError("`url` and `headers` are for runtime 'mcp' only")
        if self.expose is Expose.ALL and self.default_risk is None:
            raise ValueError(
                'expose = "all" needs `default_risk` ("read", "write" or "danger"): the risk '
                "of the server's tools that contributes.commands does not list"
            )
        self._check_command_names()
        return self

    def _check_command_names(self) -> None:
        seen: dict[str, str] = {}
        for contribution in self.contributes.commands:
            command = self.command_name(contribution)
            if command in seen:
                raise ValueError(
                    f"tools {seen[command]!r} and {contribution.tool_name!r} would both be the "
                    f"command {command}; give one of them another `name`"
                )
            seen[command] = contribution.tool_name

    def command_name(self, contribution: CommandContribution) -> str:
        """The command a contribution registers: its dotted ``name``, or ``<plugin>.<tool>``."""
        if contribution.name is not None and re.fullmatch(COMMAND_NAME, contribution.name):
            return contribution.name
        return command_for_tool(self.name, contribution.tool_name)

    @property
    def remote(self) -> bool:
        return self.url is not None

    def permission_for(self, command: CommandContribution) -> str:
        return command.permission or f"plugin.{self.name}"


def command_for_tool(plugin: str, tool: str) -> str:
    """``<plugin>.<tool>`` in the command alphabet: ``getTinyImage`` -> ``get_tiny_image``,
    any other character outside ``[a-z0-9_.-]`` -> ``_``, empty dotted parts dropped."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", tool).lower()
    cleaned = re.sub(r"[^a-z0-9_.-]", "_", snake)
    parts = [part for part in cleaned.split(".") if part]
    return ".".join([plugin, *parts]) if parts else f"{plugin}._"


def check_server_url(url: str) -> None:
    """A remote server's URL: http(s), no credentials in it, plain http only on loopback."""
    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ValueError(
            f"`url` {shown_url(url)!r} is not an http(s) URL, e.g. https://example.com/mcp"
        )
    if parsed.username is not None or parsed.password is not None:
        raise ValueError(
            "`url` has credentials in it, which would be written wherever the URL is shown: "
            "remove them and send them as a header from the environment, e.g. headers = "
            '{ Authorization = "Bearer ${env:MY_SERVER_TOKEN}" }'
        )
    if parsed.scheme == "http" and parsed.hostname not in _LOOPBACK:
        raise ValueError(
            f"`url` {shown_url(url)!r} is plain http to another machine: what is sent "
            "(headers, tool arguments) could be read on the way. Use https://."
        )


_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def shown_url(url: str) -> str:
    """A server's URL as messages and listings show it: without its query, which may hold
    a key (``?api_key=...``)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")


def load_manifest(path: Path) -> Manifest:
    """Read and validate one manifest; raise PluginManifestError naming file, line and key."""
    try:
        source = path.read_text(encoding="utf-8")
        values = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        message = explain_toml_error(path, source, exc, fix="Fix it there.")
        raise PluginManifestError(message) from exc
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
    "Expose",
    "Manifest",
    "Permissions",
    "Runtime",
    "load_manifest",
]
