"""Commands to see, steer and develop plugins: list, start, stop, stats, doctor, new, check."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from logomesh.builtin import keep_trust
from logomesh.commands.models import CommandContext, CommandOutput, NoArguments
from logomesh.commands.registry import command
from logomesh.commands.values import RiskLevel
from logomesh.errors import InvalidArgumentsError, PluginError
from logomesh.plugins import check, doctor, scaffold, stats
from logomesh.plugins.manifest import load_manifest
from logomesh.plural import plural

# Said when a restricted workspace refuses these (the folder may be one the workspace ships;
# workspace plugins found by discovery are not even read until it is trusted).
RUNS_PLUGIN_CODE = (
    "it runs the plugin's program (plugin.check starts it; plugin.load registers commands "
    "that start it), which a plugin folder of the workspace ships"
)


class ListArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: bool = Field(default=True, description="Start enabled plugins first, to show them live.")


@command(
    "plugin.list",
    summary="List plugins with their runtime, version, state and error",
    permission="plugin.read",
    risk=RiskLevel.READ,
    examples=("which plugins are loaded", "list the plugins", "show plugin status"),
)
async def plugin_list(ctx: CommandContext, args: ListArgs) -> CommandOutput:
    host = ctx.engine.plugins
    if args.start:
        await asyncio.to_thread(host.start_all)
    rows = host.describe()
    active = sum(1 for row in rows if row["state"] == "active")
    failed = [row["name"] for row in rows if row["state"] in ("failed", "disabled")]
    message = f"{plural(len(rows), 'plugin')}, {active} active." + (
        f" Not running: {', '.join(failed)}." if failed else ""
    )
    return CommandOutput(data=rows, message=message)


class FolderArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, description="The plugin's folder.")


@command(
    "plugin.load",
    summary="Load a plugin from a folder at run time",
    permission="plugin.manage",
    risk=RiskLevel.WRITE,
    examples=("load the plugin in this folder",),
    runs_project_code=RUNS_PLUGIN_CODE,
)
async def plugin_load(ctx: CommandContext, args: FolderArgs) -> CommandOutput:
    folder = ctx.engine.settings.workspace / args.path  # an absolute path stays absolute
    plugin = await asyncio.to_thread(ctx.engine.plugins.load, folder)
    commands = ", ".join(plugin.commands) or "no commands"
    return CommandOutput(
        data=plugin.describe(), message=f"Plugin {plugin.name} loaded: {commands}."
    )


class StatsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, description="One plugin; default all.")
    start: bool = Field(default=False, description="Start enabled plugins first.")


@command(
    "plugin.stats",
    summary="CPU, memory, calls, errors, latency, restarts and uptime of each plugin",
    permission="plugin.read",
    risk=RiskLevel.READ,
    examples=(
        "how much memory do the plugins use",
        "plugin statistics",
        "which plugin is slow",
        "show plugin cpu and latency",
    ),
)
async def plugin_stats(ctx: CommandContext, args: StatsArgs) -> CommandOutput:
    host = ctx.engine.plugins
    await asyncio.to_thread(host.discover)
    if args.start and args.name is not None:
        await asyncio.to_thread(host.ensure_started, args.name)
    elif args.start:
        await asyncio.to_thread(host.start_all)
    plugins = list(host.plugins.values())
    if args.name is not None:
        plugins = [plugin for plugin in plugins if plugin.name == args.name]
        if not plugins:
            raise PluginError(f"No plugin named {args.name!r}. Run `logomesh plugin list`.")
    rows = await asyncio.to_thread(stats.collect, plugins)
    return CommandOutput(data=rows, message=stats.summary(rows))


@command(
    "plugin.doctor",
    summary="Which plugin sandbox protections are active on this machine, and why not",
    permission="plugin.read",
    risk=RiskLevel.READ,
    examples=(
        "how are plugins sandboxed here",
        "check the plugin sandbox",
        "is network isolation available for plugins",
    ),
)
async def plugin_doctor(ctx: CommandContext, _: NoArguments) -> CommandOutput:
    rows = await asyncio.to_thread(doctor.diagnose)
    rows += await asyncio.to_thread(_mcp_servers, ctx)
    return CommandOutput(data=[row.to_dict() for row in rows], message=doctor.summary(rows))


def _mcp_servers(ctx: CommandContext) -> list[doctor.Protection]:
    """Start every mounted MCP server (as ``plugin list`` does) to say what it agreed to."""
    host = ctx.engine.plugins
    host.start_all()
    return doctor.server_rows(host.plugins.values())


class NewArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="The plugin's name: lower-case letters, digits and '-'.")
    runtime: scaffold.ScaffoldRuntime = scaffold.ScaffoldRuntime.PYTHON
    dir: str = Field(
        default="plugins",
        min_length=1,
        description="Folder to create it in, relative to the workspace (or a plugins.paths one).",
    )


@command(
    "plugin.new",
    summary="Create a working plugin folder (manifest, program, test) to start from",
    permission="plugin.manage",
    risk=RiskLevel.WRITE,
    examples=(
        "create a new plugin called notes",
        "scaffold a node plugin",
        "start writing a python plugin",
    ),
)
async def plugin_new(ctx: CommandContext, args: NewArgs) -> CommandOutput:
    scaffold.check_name(args.name)
    parent = await asyncio.to_thread(_target_folder, ctx, args.dir)
    host = ctx.engine.plugins
    await asyncio.to_thread(host.discover)
    existing = host.plugins.get(args.name)
    if existing is not None:
        where = existing.found.folder or existing.found.source
        raise PluginError(
            f"A plugin named {args.name!r} already exists ({where}); pick another name.",
            code="plugin.exists",
        )
    hello = f"{args.name}.hello"
    if hello in ctx.engine.registry:
        owner = ctx.engine.registry.get(hello).provider or "LogoMesh"
        raise PluginError(
            f"A command named {hello} already exists (from {owner}); pick another name.",
            code="plugin.exists",
        )
    made, trusted = await keep_trust(
        ctx, lambda: scaffold.scaffold(args.name, args.runtime, parent)
    )
    scanned = parent in await asyncio.to_thread(_discovery_roots, ctx)
    message = (
        f"Created plugin {made.name} ({made.runtime}) in {made.folder}: {', '.join(made.files)}. "
        f"Test it with `pytest {made.folder}` and `logomesh plugin check {made.folder}`"
        + (
            f"; `logomesh run {made.command}` runs it."
            if scanned
            else f". LogoMesh does not scan {parent} for plugins: add it to plugins.paths."
        )
    )
    if not trusted:
        message += " It runs once the workspace is trusted (`logomesh trust`)."
    return CommandOutput(
        data={**made.to_dict(), "workspace_trusted": trusted},
        message=message,
        target=str(made.folder),
        audit_details={"trust_kept": trusted},
    )


class CheckArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, description="The plugin's folder (or its manifest).")
    timeout_s: float = Field(default=10.0, gt=0, le=600, description="Longest wait per call.")


@command(
    "plugin.check",
    summary="Validate a plugin: its manifest, its start, its tools against the manifest, a call",
    permission="plugin.read",
    risk=RiskLevel.READ,
    examples=(
        "check my plugin",
        "validate the plugin in plugins/notes",
        "does this plugin work",
        "test a plugin folder",
    ),
    runs_project_code=RUNS_PLUGIN_CODE,
)
async def plugin_check(ctx: CommandContext, args: CheckArgs) -> CommandOutput:
    settings = ctx.engine.settings
    path, taken = await asyncio.to_thread(_check_target, ctx, args.path)
    report = await check.check_plugin(
        path, settings.workspace, settings.plugins, call_timeout_s=args.timeout_s, taken=taken
    )
    return CommandOutput(data=report.to_dict(), message=report.summary(), target=report.path)


def _check_target(ctx: CommandContext, given: str) -> tuple[Path, dict[str, str]]:
    """The folder to check, and the commands in use by others than the plugin itself."""
    workspace = ctx.engine.settings.workspace
    path = Path(given).expanduser()
    path = (path if path.is_absolute() else workspace / path).resolve()
    taken = {spec.name: spec.provider or "LogoMesh" for spec in ctx.engine.registry}
    try:
        name = load_manifest(check.manifest_path(path)).name
    except PluginError:
        return path, taken  # check_plugin reports why
    # An installed plugin's own commands are in the registry: they are no clash.
    return path, {command: owner for command, owner in taken.items() if owner != f"plugin {name}"}


def _target_folder(ctx: CommandContext, given: str) -> Path:
    """``given`` (relative to the workspace) if it lies in the workspace or a plugins.paths."""
    workspace = ctx.engine.settings.workspace
    folder = Path(given).expanduser()
    target = (folder if folder.is_absolute() else workspace / folder).resolve()
    roots = [workspace.resolve(), *(p.resolve() for p in _plugin_paths(ctx))]
    if not any(target.is_relative_to(root) for root in roots):
        raise InvalidArgumentsError(
            f"{target} is outside the workspace ({workspace}) and plugins.paths; create plugins "
            "inside the workspace, or add the folder to plugins.paths first."
        )
    return target


def _plugin_paths(ctx: CommandContext) -> list[Path]:
    settings = ctx.engine.settings
    return [
        path if path.is_absolute() else settings.workspace / path
        for path in (p.expanduser() for p in settings.plugins.paths)
    ]


def _discovery_roots(ctx: CommandContext) -> set[Path]:
    return {p.resolve() for p in [ctx.engine.settings.workspace / "plugins", *_plugin_paths(ctx)]}
