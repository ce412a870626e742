"""The one error tree of LogoMesh.

Every error an adapter may show a person derives from :class:`LogoMeshError`, which carries
a ``user_message`` (what went wrong and how to fix it) and a stable ``code`` that scripts
and chat renderers can switch on. Third-party exceptions (SQLAlchemy, pydantic, tomllib,
cryptography) are translated where they are caught, never leaked to an adapter.

::

    LogoMeshError
    ├── ConfigError                    config.invalid, config.parse
    ├── StorageError                   storage.error
    │   ├── DatabaseLockedError        storage.locked
    │   ├── DatabaseMissingError       storage.missing
    │   ├── DatabaseUnreachableError   storage.unreachable  (PostgreSQL down, wrong host/port)
    │   ├── DatabaseAuthError          storage.auth         (PostgreSQL refused the login)
    │   ├── DatabaseCorruptError       storage.corrupt
    │   ├── MigrationError             storage.migration
    │   ├── BackupError                storage.backup
    │   └── DatabaseCopyError          storage.copy         (db copy refused or rolled back)
    ├── AuditError                     audit.error, audit.lost
    │   ├── AuditSpooledError          audit.spooled, or the storage code (kept in the spool)
    │   ├── CheckpointError            audit.checkpoint
    │   └── AuditUnavailableError      audit.unavailable    (a command refused, unaudited)
    └── CommandError                   command.error
        ├── UnknownCommandError        command.unknown
        ├── InvalidArgumentsError      command.invalid_arguments
        ├── PermissionDeniedError      command.denied
        │   ├── TwoPersonRuleError     approval.two_person
        │   └── WorkspaceRestrictedError  workspace.restricted  (runs an untrusted workspace's code)
        ├── ConfirmationDeclinedError  command.cancelled
        ├── CommandTimeoutError        command.timeout          (it was stopped)
        │   └── CommandStillRunningError  command.timeout_still_running
        ├── ToolMissingError           devshell.tool_missing
        └── ApprovalError              approval.error
            ├── UnknownTicketError     approval.unknown
            ├── TicketExpiredError     approval.expired
            ├── TicketDecidedError     approval.already_decided
            └── TicketAlteredError     approval.altered
    LLMError                           llm.error
    ├── UnknownModelError              llm.unknown_model
    ├── ProviderMissingError           llm.provider_missing
    ├── ModelUnavailableError          llm.unavailable
    ├── ContextWindowError             llm.context_exceeded
    ├── UnusableAnswerError            llm.unusable_answer  (an answer that is no usable edit)
    └── ModelCallError                 llm.call_failed
        ├── ModelTimeoutError          llm.timeout          (retried)
        ├── ModelConnectionError       llm.connection       (retried)
        ├── RateLimitedError           llm.rate_limited     (retried after Retry-After)
        ├── ModelServerError           llm.server_error     (retried)
        ├── ModelRequestError          llm.request_rejected
        ├── MalformedResponseError     llm.malformed_response
        └── StreamInterruptedError     llm.stream_interrupted
    PluginError                        plugin.error
    ├── PluginManifestError            plugin.manifest
    ├── PluginStartError               plugin.start
    ├── PluginProtocolError            plugin.protocol, plugin.session_changed
    ├── PluginCrashedError             plugin.crashed
    ├── PluginConflictError            plugin.conflict
    └── RemoteServerError              plugin.remote        (an HTTP exchange with a remote server)
        ├── RemoteUnreachableError     plugin.unreachable   (down, or no connection in time)
        ├── RemoteAuthError            plugin.auth          (HTTP 401/403: its credentials)
        └── RemoteSessionExpiredError  plugin.session_expired  (HTTP 404 for the session)
    PipelineError                      pipeline.error
    ├── PipelineValidationError        pipeline.invalid     (every Problem of a pipeline file)
    ├── PipelineExpressionError        pipeline.expression  (a ${{ }} or if: in a pipeline)
    └── PipelineRunNotFoundError       pipeline.run_not_found
    WorkerError                        worker.error
    ├── WorkerNeedsPostgresError       worker.needs_postgresql  (distributed work on SQLite)
    ├── QueueUnreachableError          worker.unreachable   (the queue's database refused us)
    └── JobFailedError                 worker.job_failed    (a job ended without its result)

Each adapter maps these to its own medium in exactly one function.
"""

from __future__ import annotations

from dataclasses import dataclass


class LogoMeshError(Exception):
    """Base of every error LogoMesh shows to a person."""

    code = "logomesh.error"

    def __init__(self, user_message: str, *, code: str | None = None) -> None:
        super().__init__(user_message)
        self.user_message = user_message
        if code is not None:
            self.code = code


class ConfigError(LogoMeshError):
    """A configuration file, variable or flag is malformed or has a wrong type."""

    code = "config.invalid"


class StorageError(LogoMeshError):
    """The database could not be read or written."""

    code = "storage.error"


class DatabaseLockedError(StorageError):
    """Another process held the database's write lock past the busy timeout."""

    code = "storage.locked"


class DatabaseMissingError(StorageError):
    """The SQLite file vanished while open, or the PostgreSQL database does not exist."""

    code = "storage.missing"


class DatabaseUnreachableError(StorageError):
    """The PostgreSQL server cannot be reached: down, restarting, or a wrong host or port."""

    code = "storage.unreachable"


class DatabaseAuthError(StorageError):
    """The PostgreSQL server refused the login: a wrong password or an unknown user."""

    code = "storage.auth"


class DatabaseCorruptError(StorageError):
    """The database file is not a valid database (or its integrity check failed)."""

    code = "storage.corrupt"


class MigrationError(StorageError):
    """A schema migration failed; the message says whether the database was restored."""

    code = "storage.migration"


class BackupError(StorageError):
    """A backup could not be taken or restored."""

    code = "storage.backup"


class DatabaseCopyError(StorageError):
    """``db copy`` was refused (the target is not empty) or failed and was rolled back."""

    code = "storage.copy"


class AuditError(LogoMeshError):
    """The audit trail could not be written, read or verified."""

    code = "audit.error"


class AuditSpooledError(AuditError):
    """Not in the trail yet but fsynced to the spool (coded as the storage failure)."""

    code = "audit.spooled"


class CheckpointError(AuditError):
    """A signed checkpoint could not be written or its key could not be used."""

    code = "audit.checkpoint"


class AuditUnavailableError(AuditError):
    """A command was refused: its start could not be recorded (``audit.durability``)."""

    code = "audit.unavailable"


class CommandError(LogoMeshError):
    """A command could not run; ``user_message`` says why."""

    code = "command.error"


class UnknownCommandError(CommandError):
    code = "command.unknown"


class InvalidArgumentsError(CommandError):
    code = "command.invalid_arguments"


class PermissionDeniedError(CommandError):
    code = "command.denied"


class ConfirmationDeclinedError(CommandError):
    code = "command.cancelled"


class CommandTimeoutError(CommandError):
    """The command ran past its deadline and was stopped."""

    code = "command.timeout"


class CommandStillRunningError(CommandTimeoutError):
    """Past its deadline, but its thread work could not be stopped and goes on alone."""

    code = "command.timeout_still_running"


class ToolMissingError(CommandError):
    """A program a DevShell command runs is not installed; the message says how to get it."""

    code = "devshell.tool_missing"

    def __init__(self, user_message: str, *, tool: str) -> None:
        super().__init__(user_message)
        self.tool = tool


class ApprovalError(CommandError):
    """A decision on an approval ticket was refused; the message says why and what to do."""

    code = "approval.error"


class UnknownTicketError(ApprovalError):
    code = "approval.unknown"


class TicketExpiredError(ApprovalError):
    code = "approval.expired"


class TicketDecidedError(ApprovalError):
    """Someone decided the ticket first (or it was cancelled): one decision wins."""

    code = "approval.already_decided"


class TicketAlteredError(ApprovalError):
    """The stored ticket no longer matches what was asked: it is refused, never run."""

    code = "approval.altered"


class WorkspaceRestrictedError(PermissionDeniedError):
    """A command that runs the workspace's own code (``tests.run``: pytest imports its
    conftest.py), refused because the adapter declared the workspace untrusted (an editor's
    Restricted Mode, ``load_settings(trusted=False)``). Recorded as a denial."""

    code = "workspace.restricted"


class TwoPersonRuleError(PermissionDeniedError):
    """The requester tried to approve a command that needs a second person (a denial)."""

    code = "approval.two_person"


class LLMError(LogoMeshError):
    """A language or embedding model could not be found, loaded or called."""

    code = "llm.error"


class UnknownModelError(LLMError):
    code = "llm.unknown_model"


class ProviderMissingError(LLMError):
    """The package a provider needs is not installed; the message names the extra."""

    code = "llm.provider_missing"


class ModelUnavailableError(LLMError):
    """The model exists but may not be used now (offline mode, cooling down, no capability)."""

    code = "llm.unavailable"


class ContextWindowError(LLMError):
    """The prompt and the requested output do not fit the model's context window."""

    code = "llm.context_exceeded"


class UnusableAnswerError(LLMError):
    """The model answered, but not with something LogoMesh may use (a fix that is not code,
    or changes nothing): said, never applied."""

    code = "llm.unusable_answer"


class ModelCallError(LLMError):
    """A call reached (or tried to reach) a model and failed.

    ``retryable`` says whether the same call may succeed if tried again; tenacity's retry
    policy in ``logomesh.llm.retry`` reads it, so the decision is made in one place.
    """

    code = "llm.call_failed"
    retryable = False

    def __init__(self, user_message: str, *, status: int | None = None) -> None:
        super().__init__(user_message)
        self.status = status


class ModelTimeoutError(ModelCallError):
    code = "llm.timeout"
    retryable = True


class ModelConnectionError(ModelCallError):
    code = "llm.connection"
    retryable = True


class RateLimitedError(ModelCallError):
    code = "llm.rate_limited"
    retryable = True

    def __init__(self, user_message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(user_message, status=429)
        self.retry_after_s = retry_after_s


class ModelServerError(ModelCallError):
    code = "llm.server_error"
    retryable = True


class ModelRequestError(ModelCallError):
    """The server refused the request itself (a 4xx other than 429): retrying cannot help."""

    code = "llm.request_rejected"


class MalformedResponseError(ModelCallError):
    code = "llm.malformed_response"


class StreamInterruptedError(ModelCallError):
    """A stream broke after part of the answer was delivered, so it is not retried."""

    code = "llm.stream_interrupted"


class PluginError(LogoMeshError):
    """A plugin could not be found, started, called or stopped."""

    code = "plugin.error"


class PluginManifestError(PluginError):
    """A ``logomesh-plugin.toml`` is malformed; the message names the file, key and fix."""

    code = "plugin.manifest"


class PluginStartError(PluginError):
    code = "plugin.start"


class PluginProtocolError(PluginError):
    """A plugin broke the protocol (non-JSON output, an oversized message, a bad answer)."""

    code = "plugin.protocol"


class PluginCrashedError(PluginError):
    code = "plugin.crashed"


class PluginConflictError(PluginError):
    """Two plugins (or a plugin and a built-in) claim the same command name."""

    code = "plugin.conflict"


class RemoteServerError(PluginError):
    """A remote MCP server (Streamable HTTP) failed one exchange; only that call failed."""

    code = "plugin.remote"


class RemoteUnreachableError(RemoteServerError):
    """No connection to the remote server: refused (it is down), or not made in time."""

    code = "plugin.unreachable"


class RemoteAuthError(RemoteServerError):
    """The remote server refused the credentials (HTTP 401 or 403)."""

    code = "plugin.auth"


class RemoteSessionExpiredError(RemoteServerError):
    """HTTP 404 for a request carrying ``Mcp-Session-Id``: the session must start anew."""

    code = "plugin.session_expired"


class PipelineError(LogoMeshError):
    """A pipeline could not be loaded, validated or run."""

    code = "pipeline.error"


class PipelineRunNotFoundError(PipelineError):
    code = "pipeline.run_not_found"


class PipelineRunFailedError(PipelineError):
    """A run ended without succeeding: a step failed, or the run was cancelled. The message
    names the run (for ``pipeline show``/``rerun``) and the steps that did not succeed."""

    code = "pipeline.run_failed"


class PipelineRunCancelledError(PipelineRunFailedError):
    """A run was cancelled (Ctrl-C, ``pipeline cancel``) before it finished."""

    code = "pipeline.cancelled"


class PipelineCheckFailedError(PipelineError):
    """A ``pipeline.check`` step found its condition false: a verdict that a command gives
    as data (tests.run's ``passed``) made the step, and so the run, fail."""

    code = "pipeline.check_failed"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a pipeline file: where it is (1-based line and column, and the
    path of keys such as ``steps[2].needs[0]``) and a message that says how to fix it."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class PipelineValidationError(PipelineError):
    """A pipeline file could not be loaded or is not a valid pipeline. It carries every
    problem found (not only the first), so a person fixes the file in one pass."""

    code = "pipeline.invalid"

    def __init__(self, problems: tuple[Problem, ...]) -> None:
        self.problems = problems
        count = f"{len(problems)} problem" + ("" if len(problems) == 1 else "s")
        lines = "\n".join(str(problem) for problem in problems)
        super().__init__(f"The pipeline file is not valid ({count}):\n{lines}")


class PipelineExpressionError(PipelineError):
    """A pipeline's ``${{ }}`` template or ``if:`` condition is malformed, reads something
    that is not there, or passes a bound (size, nesting, work). The message names the
    expression, the column and the fix; both are also attributes, for validators."""

    code = "pipeline.expression"

    def __init__(self, user_message: str, *, expression: str, column: int) -> None:
        super().__init__(user_message)
        self.expression = expression
        self.column = column


class WorkerError(LogoMeshError):
    """Distributed work (``logomesh worker``, ``executor: distributed``) could not go on."""

    code = "worker.error"


class WorkerNeedsPostgresError(WorkerError):
    """The job queue lives on team mode's PostgreSQL; the engine's database is SQLite."""

    code = "worker.needs_postgresql"


class QueueUnreachableError(WorkerError):
    """The job queue's database could not be reached (its host named, never a password)."""

    code = "worker.unreachable"


class JobFailedError(WorkerError):
    """A job ended without its command's result: not taken in time, broken, or overdue."""

    code = "worker.job_failed"
