"""The one door: every adapter runs every action through :meth:`Engine.execute`.

``execute`` validates arguments against the command's model, resolves who is asking,
authorises (deny by default), asks the adapter's :class:`Confirmer` when the risk needs it,
runs the handler under a timeout, writes one audit record with the decision and outcome,
and publishes events. Nothing here knows which adapter called: that is the point.

Storage opens lazily, so ``Engine(settings)`` is cheap and a command that never touches the
database (``config.show``) works even when the database is broken.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from logomesh.approvals.gate import ApprovalGate
from logomesh.approvals.models import DECIDE_PERMISSION, Ticket
from logomesh.approvals.service import ApprovalService
from logomesh.approvals.store import ApprovalStore
from logomesh.audit.checkpoints import CheckpointSigner
from logomesh.audit.models import AuditEntry, AuditRecord, Outcome
from logomesh.audit.store import AuditStore
from logomesh.audit.trail import AuditTrail
from logomesh.commands.builtins import BUILTIN_COMMANDS
from logomesh.commands.models import (
    CommandContext,
    CommandOutput,
    CommandRequest,
    CommandResult,
    CommandSpec,
    Confirmer,
    ErrorInfo,
)
from logomesh.commands.registry import CommandRegistry
from logomesh.config import RiskLevel, Settings
from logomesh.devshell.user_commands import register_user_commands
from logomesh.errors import (
    AuditError,
    CommandTimeoutError,
    ConfirmationDeclinedError,
    InvalidArgumentsError,
    LogoMeshError,
    PermissionDeniedError,
)
from logomesh.events import AuditRecorded, CommandFinished, CommandStarted, EventBus
from logomesh.nl.embedder import Embedder
from logomesh.plugins.host import PluginHost
from logomesh.security.identity import Actor, Identity, IdentityResolver
from logomesh.security.policy import Decision, Policy
from logomesh.storage import schema
from logomesh.storage.database import Database

if TYPE_CHECKING:
    from logomesh.audit.semantic.search import SemanticSearch
    from logomesh.llm.pool import ModelPool
    from logomesh.llm.service import LLMService
    from logomesh.nl.interpreter import Interpreter
    from logomesh.storage.migrate import Migrator

logger = logging.getLogger(__name__)


@dataclass
class _Attempt:
    """What ``execute`` learned so far about one request, for its audit record."""

    request: CommandRequest
    identity: Identity
    started: float = field(default_factory=time.perf_counter)
    details: dict[str, Any] = field(default_factory=dict)
    arguments: dict[str, Any] = field(default_factory=dict)


class Engine:
    def __init__(
        self,
        settings: Settings,
        *,
        registry: CommandRegistry | None = None,
        events: EventBus | None = None,
        auto_migrate: bool | None = None,
        provenance: dict[str, str] | None = None,
        models: ModelPool | None = None,
    ) -> None:
        self.settings = settings
        self.provenance = provenance or {}
        self.registry = registry or CommandRegistry()
        for spec in BUILTIN_COMMANDS:
            if spec.name not in self.registry:
                self.registry.register(spec)
        register_user_commands(self.registry, settings.devshell)
        self.events = events or EventBus()
        self.identities = IdentityResolver(settings)
        self.policy = Policy(settings)
        self._auto_migrate = (
            settings.database.auto_migrate if auto_migrate is None else auto_migrate
        )
        self._migrated = False
        self._model_pool = models
        # Plugins' commands are registered from their manifests now; none is started yet.
        self.plugins = PluginHost(self)
        self.plugins.discover()

    # -- services, opened on first use -------------------------------------------------

    @cached_property
    def database(self) -> Database:
        self.settings.state_dir.mkdir(parents=True, exist_ok=True)
        return Database(
            self.settings.database_url, busy_timeout_ms=self.settings.database.busy_timeout_ms
        )

    @cached_property
    def embedder(self) -> Embedder:
        """The sentence-embedding model, shared by the interpreter and audit search."""
        return Embedder(cache_dir=self.settings.nl.model_cache_dir)

    @cached_property
    def interpreter(self) -> Interpreter:
        """Natural language -> command proposals, over this engine's registry."""
        from logomesh.nl.interpreter import Interpreter

        return Interpreter(
            self.registry,
            self.embedder,
            self.settings.workspace,
            threshold=self.settings.nl.threshold,
            cache_dir=self.settings.state_dir / "cache",
        )

    @cached_property
    def llm(self) -> LLMService:
        """The model registry: every model call, retried, fallen back and audited here."""
        from logomesh.llm.service import LLMService

        return LLMService(
            self.settings.llm,
            write_audit=lambda entry: self.audit.record(entry),
            cache_dir=self.settings.nl.model_cache_dir or self.settings.state_dir / "cache",
            pool=self._model_pool,
            embedder=self.embedder,
        )

    @cached_property
    def migrator(self) -> Migrator:
        from logomesh.storage.migrate import Migrator  # Alembic loads only when needed

        return Migrator(
            self.database,
            self.settings.backup_dir,
            keep_backups=self.settings.database.keep_backups,
        )

    @property
    def audit(self) -> AuditTrail:
        self.ensure_schema()
        return self._trail

    @cached_property
    def _trail(self) -> AuditTrail:
        signer = CheckpointSigner(self.settings.audit_key_path, self.settings.checkpoint_path)
        return AuditTrail(
            AuditStore(self.database),
            signer,
            spool_path=self.settings.state_dir / "audit-spool.jsonl",
            checkpoint_every=self.settings.audit.checkpoint_every,
            trusted_keys=self.settings.audit.trusted_public_keys,
            prepare=self.ensure_schema,
        )

    def ensure_schema(self) -> None:
        """Apply pending migrations once per engine (backed up, restored on failure)."""
        if self._migrated or not self._auto_migrate:
            return
        if not schema.is_current(self.database):
            self.migrator.upgrade()
        self._migrated = True

    @cached_property
    def approvals(self) -> ApprovalService:
        """Approval tickets: opened by ``execute``, decided through ``decide``."""
        store = ApprovalStore(self.database, prepare=self.ensure_schema)
        return ApprovalService(store, record_audit=self.record_audit, events=self.events)

    @cached_property
    def approval_gate(self) -> ApprovalGate:
        return ApprovalGate(lambda: self.approvals, self.settings.security)

    @cached_property
    def semantic_search(self) -> SemanticSearch:
        """Audit search by meaning; owns the worker that embeds new audit records."""
        from logomesh.audit.semantic.search import SemanticSearch  # NumPy loads when needed

        return SemanticSearch(self.audit.store, self.embedder)

    def start_embedding_worker(self) -> None:
        """Embed new audit records in a background thread from now on (idempotent).

        For long-lived adapters (the shell, the LSP server, bots); one-shot CLI commands
        leave it off, and ``audit.search`` embeds whatever is still waiting anyway.
        """
        worker = self.semantic_search.worker
        if worker.start():
            self.events.subscribe(AuditRecorded, lambda _event: worker.wake())

    def close(self) -> None:
        self.plugins.stop_all()
        if "llm" in self.__dict__ and self._model_pool is None:
            self.llm.pool.close()  # a pool passed in belongs to the caller
        if "semantic_search" in self.__dict__:
            self.semantic_search.close()
        if "database" in self.__dict__:
            self.database.dispose()

    # -- the one door ------------------------------------------------------------------

    async def execute(
        self, request: CommandRequest, confirmer: Confirmer | None = None
    ) -> CommandResult:
        attempt = _Attempt(request, self.identities.resolve(request.actor))
        try:
            spec = self.registry.get(request.command)
            if spec.prepare is not None:
                spec = await spec.prepare()
            args = self._validate(spec, request)
            attempt.arguments = args.model_dump(mode="json")
            attempt.details["risk"] = str(spec.risk)
            self._authorize(spec, attempt)
            await self._confirm(spec, attempt, confirmer)
            output = await self._run(spec, args, attempt)
        except asyncio.CancelledError:
            self._finish(
                attempt, Outcome.CANCELLED, error=ErrorInfo("command.cancelled", "cancelled")
            )
            raise
        except LogoMeshError as exc:
            outcome = _outcome_of(exc)
            return await self._conclude(
                attempt, outcome, error=ErrorInfo(exc.code, exc.user_message)
            )
        except Exception as exc:
            logger.exception("command %s failed", request.command)
            message = f"{request.command} failed unexpectedly ({type(exc).__name__}: {exc})."
            return await self._conclude(
                attempt, Outcome.ERROR, error=ErrorInfo("internal", message)
            )
        return await self._conclude(attempt, Outcome.OK, output=output)

    def run(self, request: CommandRequest, confirmer: Confirmer | None = None) -> CommandResult:
        """``execute`` for synchronous callers (the CLI, scripts, benchmarks)."""
        return asyncio.run(self.execute(request, confirmer))

    async def decide(
        self, ticket_id: str, approver: Actor, approve: bool, reason: str | None = None
    ) -> Ticket:
        """Approve or decline an approval ticket, from any adapter and any process.

        The approver is authorised here (``approvals.decide``), and the two-person rule as
        configured now applies on top of the one recorded on the ticket. Refusals raise a
        :class:`~logomesh.errors.LogoMeshError` (unknown, expired, already decided, altered,
        denied) and, like every decision, leave an audit record. The waiting request, in
        whichever process asked, resumes on its own when it sees the new state.
        """
        identity = self.identities.resolve(approver)
        authorization = self.policy.authorize(identity, DECIDE_PERMISSION, RiskLevel.WRITE)
        return await self.approvals.decide(
            ticket_id,
            identity,
            approve,
            reason,
            authorization=authorization,
            two_person=self.settings.security.two_person,
        )

    # -- steps -------------------------------------------------------------------------

    def _validate(self, spec: CommandSpec, request: CommandRequest) -> Any:
        try:
            return spec.args_model.model_validate(dict(request.arguments))
        except ValidationError as exc:
            raise InvalidArgumentsError(_explain_validation(spec, exc)) from exc

    def _authorize(self, spec: CommandSpec, attempt: _Attempt) -> None:
        decision: Decision = self.policy.authorize(attempt.identity, spec.permission, spec.risk)
        attempt.details["authorization"] = decision.to_dict()
        if not decision.allowed:
            raise PermissionDeniedError(
                f"{attempt.identity.name} may not run {spec.name}: {decision.reason}."
            )

    async def _confirm(
        self, spec: CommandSpec, attempt: _Attempt, confirmer: Confirmer | None
    ) -> None:
        threshold = self.settings.security.confirm_from
        below = spec.risk.rank < min(threshold.rank, RiskLevel.DANGER.rank)
        if below and not attempt.request.require_confirmation:
            return
        await self.approval_gate.confirm(
            spec,
            attempt.identity,
            attempt.request,
            attempt.arguments,
            confirmer,
            details=attempt.details,
        )
        self._reauthorize(spec, attempt)

    def _reauthorize(self, spec: CommandSpec, attempt: _Attempt) -> None:
        """Ask the policy again after approval: the wait may have outlasted a role."""
        decision = self.policy.authorize(attempt.identity, spec.permission, spec.risk)
        attempt.details["authorization_after_approval"] = decision.to_dict()
        if not decision.allowed:
            raise PermissionDeniedError(
                f"{attempt.identity.name} may no longer run {spec.name}: {decision.reason}."
            )

    async def _run(self, spec: CommandSpec, args: Any, attempt: _Attempt) -> CommandOutput:
        request = attempt.request
        await self.events.publish(
            CommandStarted(request.correlation_id, spec.name, attempt.identity.name)
        )
        timeout = request.timeout_s or spec.timeout_s or self.settings.commands.default_timeout_s
        context = CommandContext(self, attempt.identity, request)
        try:
            return await asyncio.wait_for(spec.handler(context, args), timeout)
        except TimeoutError:
            raise CommandTimeoutError(
                f"{spec.name} did not finish within {timeout:g} s and was stopped. Pass a "
                "longer timeout or raise `commands.default_timeout_s`."
            ) from None

    async def _conclude(
        self,
        attempt: _Attempt,
        outcome: Outcome,
        *,
        output: CommandOutput | None = None,
        error: ErrorInfo | None = None,
    ) -> CommandResult:
        record, warnings, duration = self._finish(attempt, outcome, output=output, error=error)
        request = attempt.request
        if record is not None:
            await self.events.publish(
                AuditRecorded(request.correlation_id, record.seq, record.id, request.command)
            )
        await self.events.publish(
            CommandFinished(request.correlation_id, request.command, str(outcome), duration)
        )
        return CommandResult(
            command=request.command,
            outcome=outcome,
            correlation_id=request.correlation_id,
            data=output.data if output else None,
            message=output.message if output else (error.message if error else ""),
            error=error,
            audit_id=record.id if record else None,
            duration_ms=duration,
            warnings=tuple(warnings),
        )

    def _finish(
        self,
        attempt: _Attempt,
        outcome: Outcome,
        *,
        output: CommandOutput | None = None,
        error: ErrorInfo | None = None,
    ) -> tuple[AuditRecord | None, list[str], float]:
        duration = (time.perf_counter() - attempt.started) * 1000
        request = attempt.request
        entry = AuditEntry(
            actor=attempt.identity.name,
            source=request.actor.source,
            action=request.command,
            outcome=outcome,
            target=output.target if output else None,
            arguments=attempt.arguments or dict(request.arguments),
            error=f"[{error.code}] {error.message}" if error else None,
            duration_ms=duration,
            correlation_id=request.correlation_id,
            parent_id=request.parent_id,
            details={**attempt.details, **output.audit_details} if output else attempt.details,
            output=output.output if output else None,
        )
        try:
            # The trail readies the schema itself, so a failure there is spooled, not lost.
            record = self._trail.record(entry)
        except AuditError as exc:
            return None, [exc.user_message], duration
        except LogoMeshError as exc:
            # The database could not even be opened (a bad URL, a missing driver).
            return None, [f"The audit record could not be written: {exc.user_message}"], duration
        return record, [], duration

    async def record_audit(self, entry: AuditEntry) -> AuditRecord | None:
        """Write one audit record off the event loop; None (logged) when it was spooled.

        The one way approvals write to the trail (every ticket state change and refusal).
        """
        try:
            return await asyncio.to_thread(self._trail.record, entry)
        except AuditError as exc:
            logger.warning("%s", exc.user_message)
        except LogoMeshError as exc:
            logger.warning("The audit record could not be written: %s", exc.user_message)
        return None


def _outcome_of(exc: LogoMeshError) -> Outcome:
    if isinstance(exc, PermissionDeniedError):
        return Outcome.DENIED
    if isinstance(exc, ConfirmationDeclinedError):
        return Outcome.CANCELLED
    return Outcome.ERROR


def _explain_validation(spec: CommandSpec, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(arguments)"
        if error["type"] == "extra_forbidden":
            known = ", ".join(spec.args_model.model_fields) or "none"
            problems.append(f"`{where}` is not an argument of {spec.name} (it takes: {known})")
        else:
            problems.append(f"`{where}`: {error['msg']} (got {error.get('input')!r})")
    return f"Invalid arguments for {spec.name}: " + "; ".join(problems) + "."
