"""What one job carries: a step's request, as a typed payload a worker on another machine
turns back into the same :class:`CommandRequest`.

The actor travels as the adapter knew them (source, user id, groups), not as a resolved
identity: the worker resolves them with its own ``[security]`` settings, so a role taken
away is taken away on every worker, and authorisation, approvals and the audit trail apply
exactly as in a local run. The correlation id and parent id travel too, so ``audit query``
shows a distributed run as the same tree as a local one.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from logomesh.commands.models import CommandRequest, CommandResult, ErrorInfo
from logomesh.commands.values import Actor, Outcome, Source

# The one task every LogoMesh job runs (procrastinate's task name).
TASK_NAME = "logomesh.run_command"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ActorModel(_Model):
    """:class:`Actor` as JSON."""

    source: Source
    user_id: str
    display_name: str | None = None
    groups: tuple[str, ...] = ()

    @classmethod
    def of(cls, actor: Actor) -> ActorModel:
        return cls(source=actor.source, user_id=actor.user_id,
                   display_name=actor.display_name, groups=actor.groups)  # fmt: skip

    def actor(self) -> Actor:
        return Actor(self.source, self.user_id, self.display_name, self.groups)


class CommandJob(_Model):
    """The payload of a ``logomesh.run_command`` job."""

    command: str = Field(min_length=1)
    arguments: dict[str, JsonValue] = Field(default_factory=dict)
    actor: ActorModel
    correlation_id: str
    parent_id: str | None = None
    timeout_s: float | None = Field(default=None, gt=0)
    via: Source = Source.PIPELINE
    wait_for_approval: bool = True
    # The executor's attempt of the step (each attempt is its own job).
    attempt: int = Field(default=1, ge=1)

    @classmethod
    def of(cls, request: CommandRequest, attempt: int = 1) -> CommandJob:
        return cls(
            command=request.command,
            arguments=dict(request.arguments),
            actor=ActorModel.of(request.actor),
            correlation_id=request.correlation_id,
            parent_id=request.parent_id,
            timeout_s=request.timeout_s,
            via=request.via or Source.PIPELINE,
            wait_for_approval=request.wait_for_approval,
            attempt=attempt,
        )

    def request(self) -> CommandRequest:
        return CommandRequest(
            self.command,
            self.actor.actor(),
            dict(self.arguments),
            correlation_id=self.correlation_id,
            parent_id=self.parent_id,
            timeout_s=self.timeout_s,
            wait_for_approval=self.wait_for_approval,
            via=self.via,
        )


class ErrorModel(_Model):
    code: str
    message: str


class JobOutcome(_Model):
    """A job's :class:`CommandResult` as the waiting side reads it back from ``job_results``."""

    command: str
    outcome: Outcome
    correlation_id: str
    data: JsonValue = None
    message: str = ""
    error: ErrorModel | None = None
    audit_id: str | None = None
    duration_ms: float = 0.0
    warnings: tuple[str, ...] = ()

    @classmethod
    def of(cls, result: CommandResult) -> JobOutcome:
        error = result.error
        return cls(
            command=result.command,
            outcome=result.outcome,
            correlation_id=result.correlation_id,
            data=_json(result.data),
            message=result.message,
            error=None if error is None else ErrorModel(code=error.code, message=error.message),
            audit_id=result.audit_id,
            duration_ms=result.duration_ms,
            warnings=result.warnings,
        )

    def result(self) -> CommandResult:
        error = self.error
        return CommandResult(
            self.command,
            self.outcome,
            self.correlation_id,
            data=self.data,
            message=self.message,
            error=None if error is None else ErrorInfo(error.code, error.message),
            audit_id=self.audit_id,
            duration_ms=self.duration_ms,
            warnings=self.warnings,
        )


def _json(value: Any) -> Any:
    """A handler's data as JSON can carry it (a tuple as a list, a Path as its text)."""
    return json.loads(json.dumps(value, default=str))
