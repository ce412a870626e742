"""Built-in commands about the engine itself: status, whoami, the command list, settings."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

import logomesh
from logomesh.builtin import team_init
from logomesh.builtin.trust_commands import trust_new_workspace
from logomesh.commands.models import CommandContext, CommandOutput, NoArguments
from logomesh.commands.registry import command
from logomesh.commands.values import RiskLevel
from logomesh.errors import LogoMeshError
from logomesh.layout import WORKSPACE_FILE, make_state_dir
from logomesh.plural import plural, verb
from logomesh.security.header_values import shown_headers
from logomesh.security.redaction import REDACTED, is_secret_key, redact, redact_text
from logomesh.storage.backend import describe

if TYPE_CHECKING:
    from logomesh.config import Settings
    from logomesh.engine import Engine


@command(
    "status",
    summary="Show the engine's version, mode, database, schema and audit trail state",
    permission="engine.read",
    risk=RiskLevel.READ,
    examples=(
        "how is logomesh doing",
        "show status",
        "is everything ok",
        "is logomesh healthy",
        "which version is running",
        "give me an overview of the engine",
        "check the engine's health",
    ),
)
async def status(ctx: CommandContext, _: NoArguments) -> CommandOutput:
    engine, settings = ctx.engine, ctx.engine.settings
    data: dict[str, Any] = {
        "version": logomesh.__version__,
        "mode": str(settings.mode),
        "workspace": str(settings.workspace),
        "workspace_trusted": settings.workspace_trusted,
        # The adapter said "not trusted" (Restricted Mode): what runs its code is refused.
        "workspace_restricted": settings.workspace_restricted,
        "database": engine.database.display_url,
        "commands": len(engine.registry),
    }
    storage, healthy = await asyncio.to_thread(_storage_state, engine)
    data |= storage
    if healthy:  # team mode's job queue, on PostgreSQL: `logomesh worker status` in brief
        data["workers"] = await asyncio.to_thread(_workers_state, engine)
    summary = f"LogoMesh {data['version']} ({data['mode']} mode) in {data['workspace']}: " + (
        f"{plural(data['audit_records'], 'audit record')}, schema {data['schema']}."
        if healthy
        else f"needs attention: {data.get('problem', 'migrations pending')}"
    )
    if data.get("workers"):
        summary += f" Workers: {data['workers']['summary']}"
    return CommandOutput(data=data, message=summary)


def _workers_state(engine: Engine) -> dict[str, Any] | None:
    from logomesh.workers import read_figures

    figures = read_figures(engine)
    return None if figures is None else figures.to_dict() | {"summary": figures.summary()}


def _storage_state(engine: Engine) -> tuple[dict[str, Any], bool]:
    """The database and trail part of ``status``; blocking, so it runs off the loop."""
    try:
        trail = engine.audit  # applies pending migrations first, as every engine start does
        migration = engine.migrator.status()
        head = trail.store.head()
        return {
            "backend": describe(engine.database).label,  # e.g. "PostgreSQL 18.4 with pgvector"
            "schema": migration.current,
            "schema_up_to_date": migration.up_to_date,
            "audit_records": head.seq,
            "audit_head": head.hash,
            "audit_spooled": trail.spooled(),
            # Unreadable spool lines set aside by a drain: a person must look at them.
            "audit_quarantined": trail.quarantined(),
            "audit_quarantine_file": str(trail.quarantine_path),
            "checkpoints": len(trail.signer.read().checkpoints),
        }, migration.up_to_date
    except LogoMeshError as exc:
        return {"problem": exc.user_message}, False


@command(
    "whoami",
    summary="Show who you are to LogoMesh: identity, roles and permissions",
    permission="engine.read",
    risk=RiskLevel.READ,
    examples=(
        "who am i",
        "what are my permissions",
        "which roles do I have",
        "what identity am I using",
        "what is my user and role",
        "am I an admin",
    ),
)
async def whoami(ctx: CommandContext, _: NoArguments) -> CommandOutput:
    identity = ctx.identity
    data = {
        "identity": identity.name,
        "source": str(identity.actor.source),
        "user_id": identity.actor.user_id,
        "roles": list(identity.roles),
        "permissions": ctx.engine.policy.permissions_of(identity),
        "mode": str(ctx.engine.settings.mode),
    }
    roles = ", ".join(identity.roles) or "no roles"
    return CommandOutput(data=data, message=f"You are {identity.name} ({roles}).")


class CommandsArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    all: bool = False


@command(
    "commands.list",
    summary="List the commands you may run (all=true: every command, marked allowed or not)",
    permission="engine.read",
    risk=RiskLevel.READ,
    examples=(
        "what can I run",
        "list commands",
        "help",
        "what commands are there",
        "what are you able to do for me",
        "show me everything I can do",
        "which actions are available to me",
    ),
)
async def commands_list(ctx: CommandContext, args: CommandsArgs) -> CommandOutput:
    rows = []
    hints = _server_hints(ctx)
    for spec in ctx.engine.registry:
        allowed = ctx.engine.permits(ctx.identity, spec)
        if allowed or args.all:
            rows.append({**spec.describe(), "allowed": allowed, **hints.get(spec.name, {})})
    hidden = _hidden_tools(ctx)
    message = f"{plural(len(rows), 'command')}." + (
        f" {plural(len(hidden), 'tool')} of MCP servers {verb(len(hidden), 'is', 'are')} not"
        " commands (see the rows marked so, and "
        "`logomesh plugin list`)."
        if hidden
        else ""
    )
    return CommandOutput(data=rows + hidden, message=message)


def _server_hints(ctx: CommandContext) -> dict[str, dict[str, Any]]:
    """What an MCP server says of the tools behind its commands (shown, never trusted)."""
    found: dict[str, dict[str, Any]] = {}
    for plugin in list(ctx.engine.plugins.plugins.values()):
        for name, binding in plugin.bindings.commands.items():
            if binding.hints or binding.risk_note:
                found[name] = {"hints": list(binding.hints), "risk_note": binding.risk_note}
    return found


def _hidden_tools(ctx: CommandContext) -> list[dict[str, Any]]:
    rows = []
    for plugin in list(ctx.engine.plugins.plugins.values()):
        for hidden in plugin.bindings.hidden:
            rows.append({
                "name": hidden.command,
                "summary": f"(not a command) tool {hidden.tool} of {plugin.name}: {hidden.reason}",
                "risk": None,
                "permission": None,
                "provider": f"plugin {plugin.name}",
                "allowed": False,
                "exposed": False,
                "hints": list(hidden.hints),
            })  # fmt: skip
    return rows


@command(
    "config.show",
    summary="Show the effective settings and where each came from (secrets masked)",
    permission="engine.read",
    risk=RiskLevel.READ,
    examples=(
        "show the configuration",
        "which settings are active",
        "config",
        "which mode is logomesh running in",
        "where does this setting come from",
        "print the settings",
        "show me the effective configuration",
    ),
)
async def config_show(ctx: CommandContext, _: NoArguments) -> CommandOutput:
    rows = effective_settings(ctx.engine.settings, ctx.engine.provenance)
    return CommandOutput(data=rows, message=f"{len(rows)} settings.")


def effective_settings(settings: Settings, provenance: dict[str, str]) -> list[dict[str, Any]]:
    """Every leaf setting as ``{key, value, source}``, secrets masked."""
    rows: list[dict[str, Any]] = []
    flat = _flatten(settings.model_dump(mode="json"))
    derived = {
        "database.url": settings.database_url,
        "audit.key_path": str(settings.audit_key_path),
        "audit.checkpoint_path": str(settings.checkpoint_path),
    }
    for key, value in flat.items():
        if value is None and key in derived:
            value = derived[key]
            source = provenance.get(key, "default (derived)")
        else:
            source = provenance.get(key, _nearest_origin(key, provenance))
        rows.append({"key": key, "value": _mask(key, value), "source": source})
    return rows


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict) and value and key != "roles":
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _nearest_origin(key: str, provenance: dict[str, str]) -> str:
    parts = key.split(".")
    for size in range(len(parts) - 1, 0, -1):
        origin = provenance.get(".".join(parts[:size]))
        if origin:
            return origin
    return "default"


def _mask(key: str, value: Any) -> Any:
    if key == "plugins.mcp" and isinstance(value, list):
        # A remote server's headers are credentials: only ${env:NAME} references show.
        return [_mcp_table_shown(table) for table in value]
    if is_secret_key(key.rsplit(".", 1)[-1]) and value not in (None, ""):
        return REDACTED
    return redact_text(value) if isinstance(value, str) else value


def _mcp_table_shown(table: Any) -> Any:
    if not isinstance(table, dict):
        return redact(table)
    headers = table.get("headers")
    shown = redact({key: value for key, value in table.items() if key != "headers"})
    if isinstance(headers, dict):
        shown["headers"] = shown_headers({str(k): str(v) for k, v in headers.items()})
    return shown


WORKSPACE_TEMPLATE = """\
# LogoMesh workspace settings. Every key is optional; `logomesh config show` prints the
# effective value of each and where it came from. Environment variables override this file
# (LOGOMESH_MODE, LOGOMESH_DATABASE__URL, ...), and command-line flags override both.

mode = "local"        # local | team | readonly | offline

[database]
# url = "postgresql+psycopg://db.example/logomesh"   # default: .logomesh/logomesh.db
busy_timeout_ms = 5000

[audit]
checkpoint_every = 1000   # sign the chain head every N records

# Security settings (security.*, audit.key_path, audit.trusted_public_keys,
# audit.durable_from) are never read from this file: put them in your user config file,
# ~/.config/logomesh/config.toml.
# Plugins in plugins/ and the [[devshell.commands]] and [[plugins.mcp]] tables here run only
# once you trust this workspace (`logomesh trust`); a change to them asks again.
"""


class InitArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    team: bool = Field(
        default=False,
        description="join the team database the engine is on (`database.url`, PostgreSQL): "
        'write mode = "team" and that URL, without its password, to logomesh.toml',
    )


@command(
    "workspace.init",
    summary="Set up this workspace: logomesh.toml, state directory, database and signing key",
    permission="engine.admin",
    risk=RiskLevel.WRITE,
    examples=(
        "initialise logomesh here",
        "set up the workspace",
        "init",
        "get this directory ready for logomesh",
        "create logomesh.toml and the database",
    ),
)
async def workspace_init(ctx: CommandContext, args: InitArgs) -> CommandOutput:
    settings = ctx.engine.settings
    created: list[str] = []
    config_file = settings.workspace / WORKSPACE_FILE
    team = None
    existed = config_file.exists()
    if args.team:
        team = await team_init.join(ctx, config_file, WORKSPACE_TEMPLATE, existed=existed)
        if team.file_changed:
            created.append(f"{config_file} (team settings)" if existed else str(config_file))
    elif not existed:
        config_file.write_text(WORKSPACE_TEMPLATE, encoding="utf-8")
        created.append(str(config_file))
    trust = await trust_new_workspace(ctx, created_config=not existed and bool(created))
    make_state_dir(settings.state_dir)
    trail = ctx.engine.audit  # creates the database and applies migrations
    if not settings.audit_key_path.exists():
        created.append(str(settings.audit_key_path))
    public_key = trail.signer.public_key_hex()
    data = {
        "workspace": str(settings.workspace),
        "database": ctx.engine.database.display_url,
        "schema": ctx.engine.migrator.current(),
        "signing_key": str(settings.audit_key_path),
        "public_key": public_key,
        "created": created,
        "trusted": trust["trusted"],
    }
    what = f"created {', '.join(created)}" if created else "already set up"
    how = "" if trust["trusted"] else f" Its own plugins and commands are off ({trust['note']})."
    message = f"Workspace {settings.workspace}: {what}.{how}"
    if team is not None:
        data |= team.describe()
        message = (
            f"Workspace {settings.workspace} uses the team database {team.database.server} "
            f"(schema {data['schema']}): {what}.{how}{team_init.next_steps(team)}"
        )
    return CommandOutput(
        data=data,
        message=message,
        target=team.database.url if team is not None else None,
        audit_details={"trust": trust, **({"team": team.describe()} if team else {})},
    )
