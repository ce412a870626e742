"""``logomesh plugin check PATH``: validate a plugin folder before anyone relies on it.

The check reads and validates the manifest, starts the plugin in a throwaway context (the
same sandbox and handshake as the host, but no engine: a plugin's requests to the host are
refused and its events go nowhere), lists its tools, and compares them with the manifest:
a declared command the plugin does not serve is a problem (the command would always fail),
a tool the manifest does not declare a warning (the host ignores it). Each served command
whose input schema requires nothing is called once with ``{}``; one that needs arguments is
reported as such, since a manifest's examples are sentences, not arguments. A call that
times out, crashes the plugin or breaks the protocol is a problem; one the plugin answers
with a failed result (``isError``) is a warning, since it refused those arguments but works.
The process is stopped at the end, whatever happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from logomesh.errors import LogoMeshError, PluginManifestError
from logomesh.plugins.arguments import model_for
from logomesh.plugins.bindings import Tool
from logomesh.plugins.connection import METHOD_NOT_FOUND, RpcError
from logomesh.plugins.manifest import MANIFEST_FILE, Manifest, load_manifest
from logomesh.plugins.process import Handlers, PluginProcess
from logomesh.plugins.sandbox import launch_spec
from logomesh.plugins.settings import PluginSettings
from logomesh.plural import plural


@dataclass
class CommandCheck:
    command: str
    served: bool
    schema: dict[str, Any] | None = None
    result: str = "not called"  # ok, error, not served, needs arguments, not called
    message: str = ""
    latency_ms: float | None = None


@dataclass
class CheckReport:
    path: str
    name: str | None = None
    runtime: str | None = None
    version: str | None = None
    manifest_error: str | None = None
    started: bool = False
    start_error: str | None = None
    start_ms: float | None = None
    commands: list[CommandCheck] = field(default_factory=list)
    missing_commands: list[str] = field(default_factory=list)
    undeclared_tools: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    log: str = ""

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}

    def summary(self) -> str:
        who = f"Plugin {self.name}" if self.name else self.path
        if self.passed:
            called = sum(1 for c in self.commands if c.result == "ok")
            commands = plural(len(self.commands), "command")
            head = f"{who}: passed ({commands}, {called} called without error)."
        else:
            head = f"{who}: FAILED.\n  " + "\n  ".join(self.problems)
        if self.warnings:
            head += "\nWarnings:\n  " + "\n  ".join(self.warnings)
        return head


def manifest_path(path: Path) -> Path:
    """A plugin folder or its manifest file, as the manifest file."""
    return path if path.name == MANIFEST_FILE and not path.is_dir() else path / MANIFEST_FILE


async def check_plugin(
    path: Path,
    workspace: Path,
    settings: PluginSettings,
    *,
    call_timeout_s: float = 10.0,
    taken: Mapping[str, str] | None = None,
) -> CheckReport:
    """Check the plugin at ``path``; ``taken`` maps command names in use to their owner."""
    file = manifest_path(path)
    report = CheckReport(str(file.parent))
    if not file.is_file():
        report.manifest_error = f"No {MANIFEST_FILE} in {file.parent}."
        report.problems.append(report.manifest_error)
        return report
    try:
        manifest = load_manifest(file)
    except PluginManifestError as exc:
        report.manifest_error = exc.user_message
        report.problems.append(exc.user_message)
        return report
    report.name, report.version = manifest.name, manifest.version
    report.runtime = str(manifest.runtime)
    _check_declarations(manifest, report, taken or {})
    await _check_process(manifest, file.parent, workspace, settings, call_timeout_s, report)
    return report


def _check_declarations(manifest: Manifest, report: CheckReport, taken: Mapping[str, str]) -> None:
    if not manifest.contributes.commands:
        report.warnings.append("The manifest declares no commands: the plugin adds nothing.")
    for contribution in manifest.contributes.commands:
        command = manifest.command_name(contribution)
        owner = taken.get(command)
        if owner is not None:
            report.problems.append(
                f"{command} already exists (from {owner}): the host would refuse to "
                "load this plugin. Rename the command."
            )
        if not contribution.examples:
            report.warnings.append(
                f"{command} has no `examples`: natural language will rarely pick it."
            )


async def _check_process(
    manifest: Manifest,
    folder: Path,
    workspace: Path,
    settings: PluginSettings,
    call_timeout_s: float,
    report: CheckReport,
) -> None:
    spec = launch_spec(manifest, folder, workspace)
    report.warnings.extend(f"not available here: {what}" for what in spec.missing)
    exits: list[str] = []
    process = PluginProcess(
        manifest.name,
        spec,
        Handlers(
            request=_refuse,
            notification=lambda method, params: None,
            exited=lambda reason: exits.append(reason or "exited"),
        ),
        settings.max_message_bytes,
    )
    started = time.perf_counter()
    try:
        tools = await asyncio.to_thread(process.start, settings.start_timeout_s)
        report.started = True
        report.start_ms = round((time.perf_counter() - started) * 1000, 1)
        await _check_tools(manifest, process, tools, call_timeout_s, report)
    except LogoMeshError as exc:
        report.start_error = exc.user_message
        report.problems.append(f"It did not start: {exc.user_message}")
    finally:
        await asyncio.to_thread(process.stop, settings.stop_grace_s)
    if exits and report.started:
        report.problems.append(f"It exited during the check: {process.exit_summary(exits[0])}")
    if not report.passed:
        report.log = process.stderr_tail()


async def _check_tools(
    manifest: Manifest,
    process: PluginProcess,
    tools: list[Tool],
    call_timeout_s: float,
    report: CheckReport,
) -> None:
    served = {tool.name: tool for tool in tools}
    declared = [c.tool_name for c in manifest.contributes.commands]
    report.missing_commands = [name for name in declared if name not in served]
    report.undeclared_tools = sorted(set(served) - set(declared))
    if report.missing_commands:
        report.problems.append(
            "Declared in the manifest but not served by the plugin: "
            + ", ".join(report.missing_commands)
            + " (these commands would always fail)."
        )
    if report.undeclared_tools:
        report.warnings.append(
            "Served but not declared in the manifest (the host ignores them): "
            + ", ".join(report.undeclared_tools)
            + ". Add them under [[contributes.commands]] to make them commands."
        )
    for contribution in manifest.contributes.commands:
        command = manifest.command_name(contribution)
        tool = served.get(contribution.tool_name)
        if tool is None:
            report.commands.append(CommandCheck(command, False, result="not served"))
            continue
        entry = CommandCheck(command, True, tool.input_schema)
        report.commands.append(entry)
        try:
            model_for(tool.name, tool.input_schema)
        except Exception as exc:  # any schema the host cannot turn into arguments
            entry.result, entry.message = "error", f"unusable inputSchema: {exc}"
            report.problems.append(f"{tool.name}: its inputSchema is unusable ({exc}).")
            continue
        required = tool.input_schema.get("required") or []
        if required:
            entry.result = "needs arguments"
            entry.message = "needs arguments: " + ", ".join(str(name) for name in required)
            continue
        limit = min(call_timeout_s, contribution.timeout_s or manifest.limits.call_timeout_s)
        await _call(process, entry, tool.name, limit, report)


async def _call(
    process: PluginProcess, entry: CommandCheck, tool: str, timeout_s: float, report: CheckReport
) -> None:
    started = time.perf_counter()
    failed_as_command = False
    try:
        result = await process.call_tool(tool, {}, timeout_s=timeout_s)
    except TimeoutError:
        entry.result, entry.message = "error", f"no answer within {timeout_s:g} s"
    except LogoMeshError as exc:
        entry.result, entry.message = "error", exc.user_message
    else:
        entry.result = "error" if result.is_error else "ok"
        entry.message = result.text[:500]
        failed_as_command = result.is_error
    entry.latency_ms = round((time.perf_counter() - started) * 1000, 1)
    if entry.result != "error":
        return
    if failed_as_command:  # it works; it refused these (empty) arguments
        report.warnings.append(f"{entry.command} with no arguments failed: {entry.message}")
    else:
        report.problems.append(f"{entry.command} with no arguments: {entry.message}")


def _refuse(method: str, params: dict[str, Any]) -> Any:
    if method == "ping":
        return {}
    raise RpcError(METHOD_NOT_FOUND, f"{method} is not available during `logomesh plugin check`.")
