"""``workspace.trust``: the user's decision to let a workspace's own code run, audited.

The decision is stored by :class:`logomesh.trust.TrustStore` in the user's config
directory; running it through the engine puts who trusted which contents (the digest and
the files it covers) in the audit trail. It takes effect the next time settings are
loaded: an engine already running keeps what it started with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from logomesh.commands.models import CommandContext, CommandOutput
from logomesh.commands.registry import command
from logomesh.commands.values import RiskLevel
from logomesh.trust import TrustRecord, TrustStore, TrustSubject

TRUST_PERMISSION = "workspace.trust"
T = TypeVar("T")


class TrustArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    revoke: bool = Field(
        default=False, description="Stop trusting it: its plugins and commands stay off."
    )


@command(
    "workspace.trust",
    summary="Trust this workspace's own plugins and commands as they are now (revoke=true: stop)",
    permission=TRUST_PERMISSION,
    risk=RiskLevel.WRITE,
    examples=(
        "trust this workspace",
        "allow this folder's plugins to run",
        "stop trusting this workspace",
    ),
)
async def workspace_trust(ctx: CommandContext, args: TrustArgs) -> CommandOutput:
    settings = ctx.engine.settings
    store = TrustStore(settings.trust_store_path)
    subject = await asyncio.to_thread(settings.trust_subject)
    if args.revoke:
        previous = await asyncio.to_thread(store.revoke, subject.workspace)
        message = (
            f"Workspace {subject.workspace} is no longer trusted: its plugins and commands "
            "stay off."
            if previous
            else f"Workspace {subject.workspace} was not trusted; nothing changed."
        )
    else:
        previous = await asyncio.to_thread(store.trust, subject, ctx.identity.name)
        message = (
            f"Workspace {subject.workspace} is trusted as it is now ({_covering(subject)}); "
            "a change to any of them asks again. Its plugins and commands load from the "
            "next command on."
        )
    data = _decision(subject, store, trusted=not args.revoke, previous=previous)
    return CommandOutput(
        data=data, message=message, target=str(subject.workspace), audit_details={"trust": data}
    )


async def trust_new_workspace(ctx: CommandContext, *, created_config: bool) -> dict[str, Any]:
    """``workspace.init``'s trust: a workspace it just created holds only its own file.

    A folder that already had a logomesh.toml or plugin manifests (a cloned repository) is
    not trusted by ``init``: the person has to look at them and run ``logomesh trust``.
    """
    settings = ctx.engine.settings
    store = TrustStore(settings.trust_store_path)
    subject = await asyncio.to_thread(settings.trust_subject)
    state = await asyncio.to_thread(store.lookup, subject)
    if state.trusted:
        return _decision(subject, store, trusted=True, note="already trusted")
    if not created_config or subject.manifests:
        found = "its logomesh.toml" if not created_config else "plugins it did not create"
        note = f"not trusted: the folder already had {found}; review it, then run `logomesh trust`"
        return _decision(subject, store, trusted=False, note=note)
    decision = ctx.engine.policy.authorize(ctx.identity, TRUST_PERMISSION, RiskLevel.WRITE)
    if not decision.allowed:
        return _decision(subject, store, trusted=False, note=f"not trusted: {decision.reason}")
    previous = await asyncio.to_thread(store.trust, subject, ctx.identity.name)
    return _decision(subject, store, trusted=True, previous=previous, note="trusted by init")


async def keep_trust(ctx: CommandContext, change: Callable[[], T]) -> tuple[T, bool]:
    """Run ``change`` (LogoMesh writing plugin files on request) and, if the workspace was
    trusted just before, trust it again as it is after: the person made that change."""
    settings = ctx.engine.settings
    store = TrustStore(settings.trust_store_path)
    before = await asyncio.to_thread(lambda: store.lookup(settings.trust_subject()))
    result = await asyncio.to_thread(change)
    if before.trusted:
        subject = await asyncio.to_thread(settings.trust_subject)
        await asyncio.to_thread(store.trust, subject, ctx.identity.name)
    return result, before.trusted


def _decision(
    subject: TrustSubject,
    store: TrustStore,
    *,
    trusted: bool,
    previous: TrustRecord | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "workspace": str(subject.workspace),
        "trusted": trusted,
        "digest": subject.digest,
        "files": subject.describe_files(),
        "store": str(store.path),
        "previous_digest": previous.digest if previous else None,
    }
    if note:
        data["note"] = note
    return data


def _covering(subject: TrustSubject) -> str:
    files = subject.describe_files()
    return f"covering {', '.join(files)}" if files else "it has no logomesh.toml or plugins yet"
