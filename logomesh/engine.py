"""The one door: every adapter runs every action through :meth:`Engine.execute`.

``execute`` resolves who is asking, authorises (deny by default, and before anything of a
plugin runs), validates arguments against the command's model, asks the adapter's
:class:`Confirmer` when the risk needs it, runs the handler under a timeout, writes one
audit record with the decision and outcome (and, before a command that must not run
unaudited, a durable "started" record: :mod:`logomesh.audit.durability`), and publishes
events. Nothing here knows which adapter called: that is the point.

Storage opens lazily, so ``Engine(settings)`` is cheap and a command that never touches the
database (``config.show``) works even when the database is broken.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from logomesh.approvals.gate import ApprovalGate
from logomesh.approvals.models import DECIDE_PERMISSION, Ticket
from logomesh.approvals.service import ApprovalService
from logomesh.approvals.store import ApprovalStore
from logomesh.attempt import Attempt, explain_validation, outcome_of
from logomesh.audit.checkpoints import CheckpointSigner
from logomesh.audit.durability import must_start_on_record, record_start
from logomesh.audit.models import AuditEntry, AuditRecord
from logomesh.audit.store import AuditStore
from logomesh.audit.trail import AuditTrail
from logomesh.audit.writer import AuditWriter
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
from logomesh.commands.threads import ThreadWorks
from logomesh.commands.values import Actor, Identity, Outcome, RiskLevel
from logomesh.config import Settings
from logomesh.deadline import timed_out
from logomesh.errors import (
    AuditError,
    InvalidArgumentsError,
    LogoMeshError,
    PermissionDeniedError,
    WorkspaceRestrictedError,
)
from logomesh.events import (
    AuditRecorded,
    CommandFinished,
    CommandStarted,
    EventBus,
)
from logomesh.layout import make_state_dir
from logomesh.nl.embedder import Embedder
from logomesh.plugins.host import PluginHost
from logomesh.security.identity import IdentityResolver
from logomesh.security.policy import Decision, Policy
from logomesh.storage import schema
from logomesh.storage.change_feed import ChangeFeed, change_feed_for
from logomesh.storage.database import Database

if TYPE_CHECKING:
    from logomesh.audit.semantic.search import SemanticSearch
    from logomesh.llm.pool import ModelPool
    from logomesh.llm.service import LLMService
    from logomesh.nl.interpreter import Interpreter
    from logomesh.pipelines.catalogue import PipelineCatalogue
    from logomesh.pipelines.store import RunStore
    from logomesh.storage.migrate import Migrator

logger = logging.getLogger(__name__)


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
        embedder: Embedder | None = None,
    ) -> None:
        """An engine with no commands of its own: :func:`logomesh.composition.build_engine`
        registers its features' commands; services passed in here are the caller's."""
        self.settings = settings
        self.provenance = provenance or {}
        self.registry = registry or CommandRegistry()
        self.events = events or EventBus()
        self.identities = IdentityResolver(settings)
        self.policy = Policy(settings)
        self._auto_migrate = (
            settings.database.auto_migrate if auto_migrate is None else auto_migrate
        )
        self._migrated = False
        self._model_pool = models
        self._embedder = embedder
        # The plugins feature registers plugins' commands from their manifests; none starts yet.
        self.plugins = PluginHost(self)

    # -- services, opened on first use -------------------------------------------------

    @cached_property
    def database(self) -> Database:
        make_state_dir(self.settings.state_dir)
        return Database(
            self.settings.database_url, busy_timeout_ms=self.settings.database.busy_timeout_ms
        )

    @cached_property
    def embedder(self) -> Embedder:
        """The sentence-embedding model, shared by the interpreter and audit search."""
        if self._embedder is not None:
            return self._embedder
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
            write_audit=self.record_audit,
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
            checkpoint_interval_s=self.settings.audit.checkpoint_interval_s,
            trusted_keys=self.settings.audit.trusted_public_keys,
            prepare=self.ensure_schema,
        )

    @cached_property
    def audit_writer(self) -> AuditWriter:
        """The one thread that writes this engine's audit records, off every event loop."""
        audit = self.settings.audit
        return AuditWriter(self._trail, max_queue=audit.writer_queue, max_batch=audit.writer_batch)

    def ensure_schema(self) -> None:
        """Apply pending migrations once per engine (backed up, restored on failure)."""
        if self._migrated or not self._auto_migrate:
            return
        if not schema.is_current(self.database):
            self.migrator.upgrade()
        self._migrated = True

    @cached_property
    def change_feed(self) -> ChangeFeed:
        """Wakes waiting approvals and runs when any process changes their rows."""
        return change_feed_for(self.database)

    @cached_property
    def approvals(self) -> ApprovalService:
        """Approval tickets: opened by ``execute``, decided through ``decide``."""
        store = ApprovalStore(self.database, prepare=self.ensure_schema, feed=self.change_feed)
        return ApprovalService(store, record_audit=self.record_audit, events=self.events)

    @cached_property
    def pipelines(self) -> PipelineCatalogue:
        """The workspace's pipelines (the pipelines feature loads them at build time)."""
        from logomesh.pipelines.catalogue import PipelineCatalogue

        return PipelineCatalogue(self)

    @cached_property
    def pipeline_runs(self) -> RunStore:
        """Pipeline runs and their steps, as any process sharing the database sees them."""
        from logomesh.pipelines.store import RunStore

        return RunStore(self.database, prepare=self.ensure_schema, feed=self.change_feed)

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
        # First the threads that may be inside the model: one still running torch when
        # Python finalises aborts the process ("terminate called without an active exception").
        if "interpreter" in self.__dict__:
            self.interpreter.close()
        if "semantic_search" in self.__dict__:
            self.semantic_search.close()
        if "embedder" in self.__dict__ and self._embedder is None:
            self.embedder.close()  # an embedder passed in belongs to the caller
        self.plugins.stop_all()
        self.events.close()  # after the plugins' last state changes are delivered
        if "audit_writer" in self.__dict__:
            self.audit_writer.close()  # writes what is still queued
        if "llm" in self.__dict__ and self._model_pool is None:
            self.llm.pool.close()  # a pool passed in belongs to the caller
        if "change_feed" in self.__dict__:
            self.change_feed.close()
        if "database" in self.__dict__:
            self.database.dispose()

    # -- the one door ------------------------------------------------------------------

    async def execute(
        self, request: CommandRequest, confirmer: Confirmer | None = None
    ) -> CommandResult:
        attempt = Attempt(request, self.identities.resolve(request.actor))
        try:
            spec = await self._find(request.command, attempt)
            if spec.audit_details:
                attempt.details.update(spec.audit_details)
            attempt.details["risk"] = str(spec.risk)
            # Before prepare: a plugin command's permission and risk come from its manifest,
            # and nothing of the plugin may run (or speak) for a caller who may not run it.
            self._authorize(spec, attempt)
            if spec.prepare is not None:
                spec = await self._prepare(spec, spec.prepare, attempt)
            args = self._validate(spec, request)
            attempt.arguments = args.model_dump(mode="json")
            await self._confirm(spec, attempt, confirmer)
            if must_start_on_record(spec.risk, self.settings.audit.durable_from):
                await self._start_on_record(attempt)
            output = await self._run(spec, args, attempt)
        except asyncio.CancelledError:
            entry = attempt.entry(
                Outcome.CANCELLED, error=ErrorInfo("command.cancelled", "cancelled")
            )
            # Awaited, so the record is in the trail when the cancelled caller resumes; the
            # write itself is shielded from a second cancel and happens whatever comes.
            with contextlib.suppress(asyncio.CancelledError):
                await self.record_audit(entry)
            raise
        except LogoMeshError as exc:
            outcome = outcome_of(exc)
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

    async def _prepare(
        self, spec: CommandSpec, prepare: Callable[[], Awaitable[CommandSpec]], attempt: Attempt
    ) -> CommandSpec:
        """The completed spec; authorised again if a reload meanwhile changed its terms."""
        prepared = await prepare()
        if (prepared.permission, prepared.risk) != (spec.permission, spec.risk):
            attempt.details["risk"] = str(prepared.risk)
            self._authorize(prepared, attempt)
        return prepared

    def _validate(self, spec: CommandSpec, request: CommandRequest) -> Any:
        try:
            return spec.args_model.model_validate(dict(request.arguments))
        except ValidationError as exc:
            raise InvalidArgumentsError(explain_validation(spec, exc)) from exc

    async def _find(self, name: str, attempt: Attempt) -> CommandSpec:
        """The command; one a mounted server may serve but has not listed yet (expose =
        "all", never started here) is looked for by starting that server, for a caller who
        may run its commands at all (the command itself is authorised as usual after)."""
        if name not in self.registry:
            found = self.plugins.binder.unlisted_server_for(name)
            if found is not None:
                plugin, permission, risk = found
                if self.policy.authorize(attempt.identity, permission, risk).allowed:
                    await asyncio.to_thread(self.plugins.ensure_started, plugin)
        return self.registry.get(name)

    def permits(self, identity: Identity, spec: CommandSpec) -> bool:
        """Whether ``identity`` may run ``spec`` here: what every listing of commands shows
        (the policy allows it, and a restricted workspace does not refuse it)."""
        allowed = self.policy.authorize(identity, spec.permission, spec.risk).allowed
        return allowed and self.policy.restriction(spec) is None

    def _authorize(self, spec: CommandSpec, attempt: Attempt) -> None:
        decision: Decision = self.policy.authorize(attempt.identity, spec.permission, spec.risk)
        attempt.details["authorization"] = decision.to_dict()
        if attempt.identity.granted_by:
            attempt.details["authorization"]["granted_by"] = {
                f"{attempt.identity.actor.source}_roles": list(attempt.identity.granted_by)
            }
        if not decision.allowed:
            raise PermissionDeniedError(
                f"{attempt.identity.name} may not run {spec.name}: {decision.reason}."
            )
        restricted = self.policy.restriction(spec)
        if restricted is not None:
            # Recorded as the decision: the roles allowed it, the workspace's trust did not.
            attempt.details["authorization"] = restricted.to_dict()
            raise WorkspaceRestrictedError(self.policy.restricted_message(spec))

    async def _confirm(
        self, spec: CommandSpec, attempt: Attempt, confirmer: Confirmer | None
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

    def _reauthorize(self, spec: CommandSpec, attempt: Attempt) -> None:
        """Ask the policy again after approval: the wait may have outlasted a role."""
        decision = self.policy.authorize(attempt.identity, spec.permission, spec.risk)
        attempt.details["authorization_after_approval"] = decision.to_dict()
        if not decision.allowed:
            raise PermissionDeniedError(
                f"{attempt.identity.name} may no longer run {spec.name}: {decision.reason}."
            )

    async def _start_on_record(self, attempt: Attempt) -> None:
        """Fail closed: no durable "started" record, no run (logomesh.audit.durability)."""
        started = await record_start(
            self.audit_writer,
            attempt.started_entry(),
            durable_from=self.settings.audit.durable_from,
            database_url=self.settings.database_url,
        )
        attempt.details["started_record"] = started.reference
        if started.warning is not None:
            attempt.warnings.append(started.warning)

    async def _run(self, spec: CommandSpec, args: Any, attempt: Attempt) -> CommandOutput:
        request = attempt.request
        await self.events.publish(
            CommandStarted(request.correlation_id, spec.name, attempt.identity.name)
        )
        timeout = request.timeout_s or spec.timeout_s or self.settings.commands.default_timeout_s
        context = CommandContext(self, attempt.identity, request, ThreadWorks(spec.name))
        try:
            # asyncio.timeout, not wait_for: the handler runs in this task, with no second
            # task and its hand-offs per command.
            async with asyncio.timeout(timeout):
                return await spec.handler(context, args)
        except TimeoutError:
            raise await timed_out(self, spec, timeout, context.threads, attempt) from None

    async def _conclude(
        self,
        attempt: Attempt,
        outcome: Outcome,
        *,
        output: CommandOutput | None = None,
        error: ErrorInfo | None = None,
    ) -> CommandResult:
        entry = attempt.entry(outcome, output=output, error=error)
        record, written = await self._write(entry)
        warnings = [*attempt.warnings, *written]
        request = attempt.request
        if record is not None:
            await self.events.publish(
                AuditRecorded(request.correlation_id, record.seq, record.id, request.command)
            )
        await self.events.publish(
            CommandFinished(
                request.correlation_id, request.command, str(outcome), entry.duration_ms
            )
        )
        return CommandResult(
            command=request.command,
            outcome=outcome,
            correlation_id=request.correlation_id,
            data=output.data if output else None,
            message=output.message if output else (error.message if error else ""),
            error=error,
            audit_id=record.id if record else None,
            duration_ms=entry.duration_ms,
            warnings=tuple(warnings),
        )

    async def _write(self, entry: AuditEntry) -> tuple[AuditRecord | None, list[str]]:
        """The record, or None and the warning for the person when it was spooled."""
        try:
            return await self.audit_writer.record(entry), []
        except AuditError as exc:
            return None, [exc.user_message]
        except LogoMeshError as exc:
            # The database could not even be opened (a bad URL, a missing driver).
            return None, [f"The audit record could not be written: {exc.user_message}"]

    # -- audit records written outside execute ---------------------------------------------

    async def record_audit(self, entry: AuditEntry) -> AuditRecord | None:
        """Write one audit record without blocking the loop; None, logged, when it could not
        be written (it is then spooled, and chained in by the next write that succeeds)."""
        try:
            return await self.audit_writer.record(entry)
        except LogoMeshError as exc:
            logger.warning("audit record for %s not written: %s", entry.action, exc.user_message)
            return None

    def record_audit_sync(self, entry: AuditEntry) -> AuditRecord | None:
        """``record_audit`` for threads that run no event loop (plugin readers, workers)."""
        try:
            return self.audit_writer.record_sync(entry)
        except LogoMeshError as exc:
            logger.warning("audit record for %s not written: %s", entry.action, exc.user_message)
            return None
