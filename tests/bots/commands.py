"""Test commands every chat adapter's tests register beside the built-in ones, and the
trail they read: real commands on the real engine, so a chat test sees real records.

``test.held`` waits at its stack's :class:`~tests.bots.gate.Gate` (registered in
:data:`GATES` by the stack that built the engine) until the test opens it, so a test sees
what the bot did while a command still runs; ``test.guarded`` leaves a line in the
workspace, so a test sees whether a danger command really ran.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict

from logomesh.audit.models import AuditRecord
from logomesh.audit.query import AuditFilter
from logomesh.commands.models import CommandContext, CommandOutput
from logomesh.commands.registry import command
from logomesh.commands.values import RiskLevel
from logomesh.composition import build_engine
from logomesh.config import DEFAULT_ROLES, LoadedSettings
from logomesh.engine import Engine
from logomesh.errors import CommandError
from tests.bots.gate import Gate

RAN_FILE = "guarded-ran.txt"


class NoteArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str = "go"


class SlowArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = 1.0
    steps: int = 1


class LongArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lines: int = 400


@command("test.guarded", summary="A danger command", permission="test.run", risk=RiskLevel.DANGER)
async def guarded(ctx: CommandContext, args: NoteArgs) -> CommandOutput:
    """Leaves a line in the workspace, so a test sees whether it really ran."""
    with (ctx.engine.settings.workspace / RAN_FILE).open("a", encoding="utf-8") as handle:
        handle.write(args.note + "\n")
    return CommandOutput(data={"note": args.note}, message=f"ran with note {args.note}")


@command("test.slow", summary="Takes its time", permission="test.run", risk=RiskLevel.READ)
async def slow(ctx: CommandContext, args: SlowArgs) -> CommandOutput:
    """A slow plugin or model, as far as the bot can tell: it reports progress and waits."""
    for step in range(args.steps):
        await ctx.progress(f"step {step + 1} of {args.steps}", (step + 1) / args.steps)
        await asyncio.sleep(args.seconds / args.steps)
    return CommandOutput(data={"slept": args.seconds}, message="done")


# The gate of each running stack, by its engine: what ``test.held`` waits at.
GATES: dict[Engine, Gate] = {}


@command("test.held", summary="Waits for the test", permission="test.run", risk=RiskLevel.READ)
async def held(ctx: CommandContext, args: NoteArgs) -> CommandOutput:
    """Reports progress, then waits at its stack's gate: while the test keeps it shut, the
    command is running, whatever the machine's speed."""
    await ctx.progress("step 1 of 2: waiting at the gate", 0.5)
    await GATES[ctx.engine].passing()
    return CommandOutput(data={"note": args.note}, message="done")


@command("test.fail", summary="Always fails", permission="test.run", risk=RiskLevel.READ)
async def failing(ctx: CommandContext, args: NoteArgs) -> CommandOutput:
    raise CommandError(f"The deploy target refused the release ({args.note}); try again later.")


@command("test.long", summary="Prints a lot", permission="test.run", risk=RiskLevel.READ)
async def long_output(ctx: CommandContext, args: LongArgs) -> CommandOutput:
    text = "\n".join(f"line {n:05d} of the build log" for n in range(args.lines))
    return CommandOutput(data={"stdout": text}, message=f"{args.lines} lines")


TEST_COMMANDS = (guarded, slow, held, failing, long_output)


def engine_for(loaded: LoadedSettings) -> Engine:
    engine = build_engine(loaded.settings, provenance=loaded.provenance)
    for spec in TEST_COMMANDS:
        engine.registry.register(spec)
    return engine


def ran(engine: Engine) -> list[str]:
    path = engine.settings.workspace / RAN_FILE
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def trail(engine: Engine, correlation_id: str | None = None, **where: Any) -> list[AuditRecord]:
    """Audit records, oldest first (of one correlation id, if given)."""
    query = AuditFilter(correlation_id=correlation_id, oldest_first=True, **where)
    return engine.audit.store.query(query)


def team_flags(
    platform: str, people: tuple[str, str, str], platform_settings: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    """Team mode's rules (roles required, the two-person rule for danger, bots on) on the
    workspace's SQLite file, and three mapped people: ``people`` are alice's, bob's
    (developers) and vera's (a viewer) ids on ``platform``, whose ``[bots.<platform>]``
    is ``platform_settings``; ``extra`` sections are merged over the result."""
    alice, bob, vera = people
    roles = {name: list(permissions) for name, permissions in DEFAULT_ROLES.items()}
    roles["developer"] = [*roles["developer"], "test.*"]
    flags: dict[str, Any] = {
        "security": {
            "require_roles": True,
            "two_person": ["danger"],
            "roles": roles,
            "identities": [
                {"name": "alice", "roles": ["developer"], platform: [alice], "cli": ["alice"]},
                {"name": "bob", "roles": ["developer"], platform: [bob], "cli": ["bob"]},
                {"name": "vera", "roles": ["viewer"], platform: [vera]},
            ],
        },
        "bots": {"enabled": True, platform: platform_settings, "progress_interval_s": 0.05},
    }
    for section, values in extra.items():
        flags[section] = {**flags.get(section, {}), **values}
    return flags
