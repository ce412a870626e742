"""Built-in commands over the audit trail: query, search, verify, checkpoint, key, export,
prune."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from logomesh.audit.checkpoints import CheckpointSigner
from logomesh.audit.export import export_records
from logomesh.audit.query import AuditFilter, parse_duration, parse_when
from logomesh.commands.models import CommandContext, CommandOutput, NoArguments
from logomesh.commands.registry import command
from logomesh.commands.values import Outcome, RiskLevel, Source
from logomesh.errors import InvalidArgumentsError
from logomesh.plural import plural, verb


class _FilterArgs(BaseModel):
    """The filters audit.query and audit.search share."""

    model_config = ConfigDict(extra="forbid")

    actor: str | None = None
    action: str | None = Field(default=None, description="exact, or with * wildcards")
    source: Source | None = None
    outcome: Outcome | None = None
    since: str | None = Field(default=None, description="ISO time or age such as 2h, 7d")
    until: str | None = None

    def to_filter(self, limit: int, correlation_id: str | None = None) -> AuditFilter:
        return AuditFilter(
            actor=self.actor,
            action=self.action,
            source=str(self.source) if self.source else None,
            outcome=str(self.outcome) if self.outcome else None,
            correlation_id=correlation_id,
            since=parse_when(self.since, field="since") if self.since else None,
            until=parse_when(self.until, field="until") if self.until else None,
            limit=limit,
        )


class QueryArgs(_FilterArgs):
    correlation_id: str | None = None
    limit: int = Field(default=20, ge=1, le=10_000)
    payloads: bool = Field(default=False, description="include prompt/response/output text")


@command(
    "audit.query",
    summary="Find audit records by actor, action, source, outcome and time",
    permission="audit.read",
    risk=RiskLevel.READ,
    examples=(
        "who ran commands today",
        "show failed commands since yesterday",
        "what did alice do in the last 2 hours",
        "show the audit log",
        "what happened recently",
        "latest entries in the audit trail",
        "which actions were refused",
        "list everything bob did",
        "commands run from chat",
    ),
)
async def audit_query(ctx: CommandContext, args: QueryArgs) -> CommandOutput:
    # Off the loop from the first touch: opening the trail may apply pending migrations.
    trail = await asyncio.to_thread(lambda: ctx.engine.audit)
    records = await asyncio.to_thread(
        trail.store.query, args.to_filter(args.limit, args.correlation_id)
    )
    rows = [record.to_dict() for record in records]
    if args.payloads:
        wanted = [r[k] for r in rows for k in ("prompt_hash", "response_hash", "output_hash")]
        stored = await asyncio.to_thread(trail.store.payloads, [h for h in wanted if h])
        for row in rows:
            for name in ("prompt", "response", "output"):
                digest = row.get(f"{name}_hash")
                if digest:
                    content = stored.get(digest)
                    row[name] = content.decode("utf-8", "replace") if content else "[pruned]"
    return CommandOutput(data=rows, message=f"{plural(len(rows), 'record')}.")


class SearchArgs(_FilterArgs):
    query: str = Field(description="what to look for, in your own words")
    limit: int = Field(default=10, ge=1, le=100)

    @field_validator("query")
    @classmethod
    def _has_words(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError(
                "empty_query",
                "say what to look for, e.g. query='who restarted the database' "
                "(to filter without one, use audit.query)",
            )
        return value.strip()


@command(
    "audit.search",
    summary="Search the audit trail by meaning, best matches first, with optional filters",
    permission="audit.read",
    risk=RiskLevel.READ,
    examples=(
        "who restarted the database",
        "search the audit log for failed deploys",
        "find audit records about migrations",
        "when did somebody last force push",
        "look through the audit history for anything about secrets",
        "has anyone downloaded the audit trail",
    ),
)
async def audit_search(ctx: CommandContext, args: SearchArgs) -> CommandOutput:
    where = args.to_filter(args.limit)
    search = ctx.engine.semantic_search
    result = await ctx.run_in_thread(
        search.search, args.query, where, what="searching the audit trail by meaning"
    )
    rows = [{**hit.record.to_dict(), "score": round(hit.score, 4)} for hit in result.hits]
    message = f"{plural(len(rows), 'record')}, best match first."
    if result.notice:
        message += f" Note: {result.notice}"
    if result.pending:
        message += (
            f" {plural(result.pending, 'newer record')} {verb(result.pending, 'is', 'are')} not"
            " embedded yet and not searched;"
            " search again to embed more."
        )
    return CommandOutput(data=rows, message=message)


class VerifyArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allow_missing_checkpoints: bool = Field(
        default=False,
        description="list, but do not fail on, checkpoints the schedule should have written "
        "(for a trail imported from elsewhere)",
    )


@command(
    "audit.verify",
    summary="Check the audit hash chain, payloads and signed checkpoints for tampering",
    permission="audit.verify",
    risk=RiskLevel.READ,
    examples=(
        "verify the audit trail",
        "has the audit log been tampered with",
        "check that the audit records are intact",
        "prove the logs were not modified",
        "validate the hash chain",
    ),
)
async def audit_verify(ctx: CommandContext, args: VerifyArgs) -> CommandOutput:
    report = await ctx.run_in_thread(
        lambda: ctx.engine.audit.verify(allow_missing_checkpoints=args.allow_missing_checkpoints),
        what="verifying the audit chain",
        check="`logomesh audit verify` again with a longer timeout",
    )
    return CommandOutput(data=report.to_dict(), message=report.summary())


@command(
    "audit.checkpoint",
    summary="Sign the audit chain head now and append it to the checkpoint file",
    permission="audit.checkpoint",
    risk=RiskLevel.WRITE,
    examples=(
        "checkpoint the audit trail",
        "sign the audit log",
        "sign the current head of the audit chain",
        "record a signed checkpoint",
    ),
)
async def audit_checkpoint(ctx: CommandContext, _: NoArguments) -> CommandOutput:
    checkpoint = await ctx.run_in_thread(
        lambda: ctx.engine.audit.checkpoint(),
        what="signing the chain head",
        check="`logomesh audit verify` (it lists the checkpoints)",
    )
    return CommandOutput(
        data={"seq": checkpoint.seq, "hash": checkpoint.hash, "public_key": checkpoint.public_key},
        message=f"Signed checkpoint at record #{checkpoint.seq}.",
        target=str(ctx.engine.settings.checkpoint_path),
    )


@command(
    "audit.key",
    summary="Show this machine's audit signing public key, for `audit.trusted_public_keys`",
    permission="audit.verify",
    risk=RiskLevel.READ,
    examples=(
        "show the audit signing key",
        "what is this machine's public key for checkpoints",
        "which key signs the audit checkpoints here",
        "print the public key to trust on the other machines",
    ),
)
async def audit_key(ctx: CommandContext, _: NoArguments) -> CommandOutput:
    settings = ctx.engine.settings
    # No database needed: the key lives in the user's config folder. A machine without one
    # gets it now, as its first checkpoint would, so a team can list every key up front.
    signer = CheckpointSigner(settings.audit_key_path, settings.checkpoint_path)
    existed = signer.existing_public_key_hex() is not None
    public_key = await ctx.run_in_thread(
        signer.public_key_hex,
        what=f"reading the audit signing key {settings.audit_key_path}",
        check=f"that {settings.audit_key_path} exists",
    )
    trusted = list(dict.fromkeys((*settings.audit.trusted_public_keys, public_key)))
    toml = "trusted_public_keys = [" + ", ".join(f'"{key}"' for key in trusted) + "]"
    created = "" if existed else f" (created now in {settings.audit_key_path})"
    return CommandOutput(
        data={
            "public_key": public_key,
            "key_path": str(settings.audit_key_path),
            "created": not existed,
            "toml": toml,
        },
        message=(
            f"This machine signs audit checkpoints with public key {public_key}{created}. "
            "On every machine of the team that runs `logomesh audit verify`, list it under "
            f"[audit] in the user config (not the workspace's logomesh.toml):\n[audit]\n{toml}"
        ),
        target=str(settings.audit_key_path),
    )


class ExportArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: Path
    format: Literal["jsonl", "csv"] = "jsonl"
    overwrite: bool = False


@command(
    "audit.export",
    summary="Export the whole audit trail to a JSON Lines or CSV file",
    permission="audit.read",
    risk=RiskLevel.READ,
    examples=(
        "export the audit log to csv",
        "dump the audit trail",
        "write the audit records to a jsonl file",
        "give me the audit trail as a spreadsheet",
    ),
)
async def audit_export(ctx: CommandContext, args: ExportArgs) -> CommandOutput:
    if args.path.exists() and not args.overwrite:
        raise InvalidArgumentsError(
            f"`path`: {args.path} already exists; pass overwrite=true or pick another name."
        )
    count = await ctx.run_in_thread(
        export_records,
        ctx.engine.audit.store,
        args.path,
        args.format,
        what=f"writing the audit trail to {args.path}",
        check=f"{args.path} is complete once the trail records the export's end",
    )
    return CommandOutput(
        data={"path": str(args.path), "records": count, "format": args.format},
        message=f"Exported {plural(count, 'record')} to {args.path}.",
        target=str(args.path),
    )


class PruneArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payloads_older_than: str = Field(description="age such as 90d; records stay, texts go")


@command(
    "audit.prune",
    summary="Drop stored prompts, responses and outputs older than an age (the chain stays valid)",
    permission="audit.prune",
    risk=RiskLevel.DANGER,
    examples=(
        "prune old audit payloads",
        "apply the audit retention policy",
        "remove stored prompts and command output older than a month",
        "free space taken by old audit texts",
    ),
)
async def audit_prune(ctx: CommandContext, args: PruneArgs) -> CommandOutput:
    age = parse_duration(args.payloads_older_than, field="payloads_older_than")
    cutoff = datetime.now(UTC) - age
    dropped = await ctx.run_in_thread(
        ctx.engine.audit.store.prune_payloads,
        cutoff,
        what=f"dropping payloads older than {args.payloads_older_than}",
        check="`logomesh audit query --action audit.prune` shows when it has ended",
    )
    return CommandOutput(
        data={"pruned_payloads": dropped, "cutoff": cutoff.isoformat()},
        message=f"Pruned {plural(dropped, 'payload')} older than {args.payloads_older_than}.",
    )
