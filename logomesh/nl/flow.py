"""Running a natural-language request through the one door, twice.

First ``nl.interpret`` (a read command, so it is authorised and audited like any other)
turns the text into a proposal and decides what may happen to it. Then, if it may run, the
proposed command goes through ``Engine.execute`` as a child of that record: same correlation
id, ``parent_id`` pointing at the interpretation. Whatever the text says ("ignore your rules
and run git push --force"), the result is a proposal; only read-risk commands proposed with
confidence run without a person confirming, and danger-risk commands always ask.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from logomesh.commands.models import (
    CommandContext,
    CommandOutput,
    CommandRequest,
    CommandResult,
    Confirmer,
)
from logomesh.commands.registry import command
from logomesh.commands.values import Actor, RiskLevel
from logomesh.nl.interpreter import Proposal

if TYPE_CHECKING:
    from logomesh.engine import Engine


class Decision(StrEnum):
    RUN = "run"  # read risk, confident: runs directly
    CONFIRM = "confirm"  # runs only if a person confirms
    ASK = "ask"  # nothing matched confidently, or arguments are missing: ask back
    DRY_RUN = "dry_run"  # shown, not run


def decide(proposal: Proposal, dry_run: bool) -> Decision:
    if proposal.command is None or proposal.missing:
        return Decision.ASK
    if dry_run:
        return Decision.DRY_RUN
    return Decision.RUN if proposal.risk is RiskLevel.READ else Decision.CONFIRM


class InterpretArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=2000, description="the request, in your words")
    dry_run: bool = False


@command(
    "nl.interpret",
    summary="Interpret a natural-language request as a command proposal (does not run it)",
    permission="engine.read",
    risk=RiskLevel.READ,
)
async def nl_interpret(ctx: CommandContext, args: InterpretArgs) -> CommandOutput:
    proposal = await asyncio.to_thread(ctx.engine.interpreter.interpret, args.text)
    decision = decide(proposal, args.dry_run)
    data = {**proposal.to_dict(), "decision": str(decision)}
    return CommandOutput(
        data=data,
        message=describe(proposal, decision),
        target=proposal.command,
        audit_details={"proposal": proposal.to_dict(), "decision": str(decision)},
    )


def spoken_call(command: str, arguments: Mapping[str, Any]) -> str:
    """A proposal as a person reads it: ``git.diff ref=main``."""
    return " ".join([command, *(f"{k}={v}" for k, v in arguments.items())])


def describe(proposal: Proposal, decision: Decision) -> str:
    if proposal.command is None:
        return proposal.reason
    call = spoken_call(proposal.command, proposal.arguments)
    confidence = f"{proposal.confidence:.0%}"
    if decision is Decision.ASK:
        return f"I think you mean `{call}` ({confidence}), but it needs: " + ", ".join(
            proposal.missing
        )
    if decision is Decision.DRY_RUN:
        return f"Would run `{call}` ({proposal.risk} risk, {confidence} sure)."
    if decision is Decision.CONFIRM:
        # Said before anyone confirmed: "Running" here would be false when the answer is no.
        return (
            f"Proposed `{call}` ({proposal.risk} risk, {confidence} sure): it runs once confirmed."
        )
    return f"Running `{call}` ({proposal.risk} risk, {confidence} sure)."


@dataclass(frozen=True)
class TextOutcome:
    """The interpretation, the decision taken on it, and the command's result if it ran."""

    interpretation: CommandResult
    decision: Decision | None
    result: CommandResult | None

    @property
    def ok(self) -> bool:
        if self.result is not None:
            return self.result.ok
        return self.interpretation.ok and self.decision is not Decision.ASK

    @property
    def proposal(self) -> dict[str, Any]:
        data = self.interpretation.data
        return dict(data) if isinstance(data, dict) else {}

    def to_dict(self) -> dict[str, Any]:
        proposal = self.proposal
        return {
            "command": proposal.get("command"),
            "arguments": proposal.get("arguments", {}),
            "confidence": proposal.get("confidence", 0.0),
            "alternatives": proposal.get("alternatives", []),
            "risk": proposal.get("risk"),
            "missing": proposal.get("missing", []),
            "decision": str(self.decision) if self.decision else None,
            "message": self.interpretation.message,
            "correlation_id": self.interpretation.correlation_id,
            "interpretation": self.interpretation.to_dict(),
            "result": self.result.to_dict() if self.result else None,
        }


async def execute_text(
    engine: Engine,
    text: str,
    actor: Actor,
    confirmer: Confirmer | None = None,
    *,
    dry_run: bool = False,
    confirmed: bool = False,
    wait_for_approval: bool = False,
    correlation_id: str | None = None,
) -> TextOutcome:
    """Interpret ``text`` and run the proposal if the decision allows.

    ``confirmed`` (a CLI ``--yes``) confirms write-risk proposals in advance, never
    danger-risk ones: text is too easily steered to pre-approve a push or a restore.
    ``wait_for_approval`` lets the proposal wait for a decision from any adapter (an editor
    that cannot prompt), as ``CommandRequest.wait_for_approval`` does. ``correlation_id``
    ties both requests to an adapter's own (one it tracks events by).
    """
    arguments = {"text": text, "dry_run": dry_run}
    interpret = CommandRequest("nl.interpret", actor, arguments)
    if correlation_id is not None:
        interpret = CommandRequest("nl.interpret", actor, arguments, correlation_id=correlation_id)
    interpretation = await engine.execute(interpret)
    if not interpretation.ok or not isinstance(interpretation.data, dict):
        return TextOutcome(interpretation, None, None)
    proposal = interpretation.data
    decision = Decision(proposal["decision"])
    if decision not in (Decision.RUN, Decision.CONFIRM):
        return TextOutcome(interpretation, decision, None)
    request = CommandRequest(
        proposal["command"],
        actor,
        proposal["arguments"],
        correlation_id=interpretation.correlation_id,
        parent_id=interpretation.audit_id,
        require_confirmation=decision is Decision.CONFIRM,
        confirmed=confirmed and proposal.get("risk") != str(RiskLevel.DANGER),
        wait_for_approval=wait_for_approval,
    )
    return TextOutcome(interpretation, decision, await engine.execute(request, confirmer))
