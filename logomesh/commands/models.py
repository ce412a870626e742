"""The typed values that cross the one door: requests in, results out, specs in the registry.

A :class:`CommandSpec` declares everything the engine must know to run a command safely
(argument model, permission, risk) so that no adapter has to. Handlers receive validated
arguments and a :class:`CommandContext`, and return a :class:`CommandOutput`; the engine
turns that into a :class:`CommandResult` with the outcome and the audit record's id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from logomesh.commands.threads import ThreadWorks
from logomesh.commands.values import Actor, Identity, Outcome, RiskLevel, Source, new_id

if TYPE_CHECKING:
    from logomesh.engine import Engine

T = TypeVar("T")


class NoArguments(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True, slots=True)
class CommandOutput:
    """What a handler returns: data for scripts, a message for people, optional long output."""

    data: Any = None
    message: str = ""
    output: str | None = None
    target: str | None = None
    # Facts worth keeping in the audit record's details (a proposal, a decision).
    audit_details: Mapping[str, Any] = field(default_factory=dict)


Handler = Callable[["CommandContext", Any], Awaitable[CommandOutput]]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    summary: str
    args_model: type[BaseModel]
    permission: str
    risk: RiskLevel
    handler: Handler
    examples: tuple[str, ...] = ()
    timeout_s: float | None = None
    # Completes the spec on first use (a plugin command learns its argument schema when its
    # plugin starts); the engine awaits it before validating arguments.
    prepare: Callable[[], Awaitable[CommandSpec]] | None = None
    # Who provides the command when it is not LogoMesh itself (a plugin's name).
    provider: str | None = None
    # Goes into every record of the command, whatever its outcome (a plugin's name and
    # version), so a denial or a failure says as much as a success.
    audit_details: Mapping[str, Any] = field(default_factory=dict)
    # Why the command runs the workspace's own code ("pytest imports its conftest.py"), or
    # None: such a command is refused in a workspace an adapter declared untrusted
    # (``Settings.workspace_restricted``, an editor's Restricted Mode).
    runs_project_code: str | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "summary": self.summary,
            "permission": self.permission,
            "risk": str(self.risk),
            "examples": list(self.examples),
            "arguments": self.args_model.model_json_schema().get("properties", {}),
            "provider": self.provider or "logomesh",
        }


@dataclass(frozen=True, slots=True)
class CommandRequest:
    command: str
    actor: Actor
    arguments: Mapping[str, Any] = field(default_factory=dict)
    correlation_id: str = field(default_factory=new_id)
    parent_id: str | None = None
    confirmed: bool = False
    # Ask a person even below the risk threshold (natural-language proposals do).
    require_confirmation: bool = False
    timeout_s: float | None = None
    # When nobody can confirm at once (no confirmer, or the two-person rule), wait for a
    # decision on the approval ticket from any adapter until it expires, instead of failing.
    wait_for_approval: bool = False
    # The part of LogoMesh that made this request on the actor's behalf (a pipeline's step):
    # the audit record's source. Who may run it is still decided by the actor.
    via: Source | None = None

    @property
    def source(self) -> Source:
        return self.via or self.actor.source


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class CommandResult:
    command: str
    outcome: Outcome
    correlation_id: str
    data: Any = None
    message: str = ""
    error: ErrorInfo | None = None
    audit_id: str | None = None
    duration_ms: float = 0.0
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "ok": self.ok,
            "outcome": str(self.outcome),
            "data": self.data,
            "message": self.message,
            "error": {"code": self.error.code, "message": self.error.message}
            if self.error
            else None,
            "audit_id": self.audit_id,
            "correlation_id": self.correlation_id,
            "duration_ms": round(self.duration_ms, 3),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True)
class ConfirmationRequest:
    """What the engine asks an adapter to confirm, with everything needed to decide.

    ``arguments`` are redacted: a prompt or a chat button must never show a secret.
    ``ticket_id`` names the approval ticket the answer is recorded on.
    """

    command: str
    summary: str
    risk: RiskLevel
    arguments: Mapping[str, Any]
    identity: str
    ticket_id: str | None = None

    @property
    def prompt(self) -> str:
        args = " ".join(f"{k}={v!r}" for k, v in self.arguments.items())
        return f"Run {self.command} {args}".rstrip() + f" ({self.risk} risk: {self.summary})?"


class Confirmer(Protocol):
    """The port through which the engine asks a person to confirm a risky command."""

    async def confirm(self, request: ConfirmationRequest) -> bool: ...


@dataclass(frozen=True, slots=True)
class CommandContext:
    """What a handler may use: the engine's services, who is asking, a progress channel,
    and a way to run blocking work in a thread that its timeout accounts for."""

    engine: Engine
    identity: Identity
    request: CommandRequest
    threads: ThreadWorks = field(default_factory=ThreadWorks)

    async def run_in_thread(
        self,
        fn: Callable[..., T],
        *args: Any,
        what: str,
        check: str | None = None,
        stoppable: bool = False,
    ) -> T:
        """Run blocking ``fn(*args)`` off the loop, tracked (see :mod:`.threads`).

        ``what`` says what it does and ``check`` how to see its result, for the timeout's
        message if it outlives the deadline. A ``stoppable`` function takes ``stop``, a
        :class:`threading.Event` set at the deadline, and then returns early, cleaning up.
        Prefer this to ``asyncio.to_thread`` for work that changes something.
        """
        return await self.threads.run(fn, *args, what=what, check=check, stoppable=stoppable)

    async def progress(self, message: str, fraction: float | None = None) -> None:
        from logomesh.events import CommandProgress  # here: events imports nothing of ours

        event = CommandProgress(
            self.request.correlation_id, self.request.command, message, fraction
        )
        await self.engine.events.publish(event)
