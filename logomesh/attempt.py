"""One request's way through the one door, and the audit records it becomes.

``Engine.execute`` fills an :class:`Attempt` as it goes (who asked, the validated
arguments, the authorisation and confirmation decisions). Whatever the outcome, the attempt
becomes exactly one audit record, one more before it runs when its risk must not run
unaudited (``started_entry``), and one more when thread work outlives a timeout; the
shape of those records is read here, in one place, rather than spread through the engine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from logomesh.audit.models import AuditEntry
from logomesh.commands.models import CommandOutput, CommandRequest, CommandSpec, ErrorInfo
from logomesh.commands.threads import ThreadWork
from logomesh.commands.values import Identity, Outcome
from logomesh.errors import ConfirmationDeclinedError, LogoMeshError, PermissionDeniedError

# The action of a "started" record; its target is the command, its correlation id the same.
STARTED_ACTION = "command.started"


@dataclass
class Attempt:
    """What ``execute`` learned so far about one request, for its audit record."""

    request: CommandRequest
    identity: Identity
    started: float = field(default_factory=time.perf_counter)
    details: dict[str, Any] = field(default_factory=dict)
    arguments: dict[str, Any] = field(default_factory=dict)
    # What the person must be told whatever the outcome (a start recorded in the spool only).
    warnings: list[str] = field(default_factory=list)

    @property
    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def entry(
        self,
        outcome: Outcome,
        *,
        output: CommandOutput | None = None,
        error: ErrorInfo | None = None,
    ) -> AuditEntry:
        """The command's own record: the decision, the outcome and what it produced."""
        request = self.request
        return AuditEntry(
            actor=self.identity.name,
            source=request.source,
            action=request.command,
            outcome=outcome,
            target=output.target if output else None,
            arguments=self.arguments or dict(request.arguments),
            error=f"[{error.code}] {error.message}" if error else None,
            duration_ms=self.elapsed_ms,
            correlation_id=request.correlation_id,
            parent_id=request.parent_id,
            details={**self.details, **output.audit_details} if output else self.details,
            output=output.output if output else None,
            timestamp=datetime.now(UTC),
        )

    def started_entry(self) -> AuditEntry:
        """The record a command that must not run unaudited needs before it runs: who, what
        with which arguments, and the decisions so far (see logomesh.audit.durability)."""
        request = self.request
        return AuditEntry(
            actor=self.identity.name,
            source=request.source,
            action=STARTED_ACTION,
            outcome=Outcome.STARTED,
            target=request.command,
            arguments=self.arguments or dict(request.arguments),
            duration_ms=self.elapsed_ms,
            correlation_id=request.correlation_id,
            parent_id=request.parent_id,
            details=dict(self.details),
            timestamp=datetime.now(UTC),
        )

    def late_entry(self, work: ThreadWork) -> AuditEntry:
        """How thread work that outlived the command's timeout ended (a second record)."""
        error = work.error()
        outcome = Outcome.OK if error is None else Outcome.ERROR
        late = {"finished_after_timeout": True, "work": work.what}
        return replace(self.entry(outcome), error=error, details=late)


def outcome_of(exc: LogoMeshError) -> Outcome:
    if isinstance(exc, PermissionDeniedError):
        return Outcome.DENIED
    if isinstance(exc, ConfirmationDeclinedError):
        return Outcome.CANCELLED
    return Outcome.ERROR


def explain_validation(spec: CommandSpec, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(arguments)"
        if error["type"] == "extra_forbidden":
            known = ", ".join(spec.args_model.model_fields) or "none"
            problems.append(f"`{where}` is not an argument of {spec.name} (it takes: {known})")
        else:
            problems.append(f"`{where}`: {error['msg']} (got {error.get('input')!r})")
    return f"Invalid arguments for {spec.name}: " + "; ".join(problems) + "."
