"""Fail closed: a command whose effects matter most runs only once its start is on record.

A command's own record is written when it ends, and when the trail cannot take it the
record is spooled or, when even the spool cannot be written (a full disk, a read-only state
directory), lost with a warning. For a read command that is the right trade: it changed
nothing, and refusing it would also refuse ``status`` and ``audit verify``, the commands
that diagnose the problem. A command at or above ``audit.durable_from`` (``danger`` by
default, ``write`` in team mode) must not act unaudited, so before its handler runs
``Engine.execute`` writes a "started" record (action ``command.started``, the command as
target, the same correlation id, the decisions so far) through the audit writer and waits:

- committed to the database: the command runs, and its final record names that record;
- kept in the spool (the database refused it; the spool file took it and was fsynced): it
  is durable, so the command runs, the person is told, and the final record says
  ``spooled``; the next successful write chains both in;
- neither: :class:`~logomesh.errors.AuditUnavailableError`, and the command does not run.

A command below the threshold writes no started record and pays nothing for this rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import ArgumentError

from logomesh.audit.models import AuditEntry
from logomesh.audit.writer import AuditWriter
from logomesh.commands.values import RiskLevel
from logomesh.errors import AuditSpooledError, AuditUnavailableError, LogoMeshError
from logomesh.storage.database import displayed_url

SPOOLED = "spooled"  # the final record's ``started_record`` when the start is in the spool


@dataclass(frozen=True, slots=True)
class StartedRecord:
    """Where the start of a command is on record: a record id, or ``spooled``."""

    reference: str
    warning: str | None = None


def must_start_on_record(risk: RiskLevel, durable_from: RiskLevel) -> bool:
    return risk.rank >= durable_from.rank


async def record_start(
    writer: AuditWriter, entry: AuditEntry, *, durable_from: RiskLevel, database_url: str
) -> StartedRecord:
    """Write ``entry`` (a started record) and say where it is; raise AuditUnavailableError
    when it is neither committed nor spooled."""
    try:
        record = await writer.record(entry)
    except LogoMeshError as exc:
        if isinstance(exc, AuditSpooledError):  # fsynced to the spool: durable
            return StartedRecord(
                SPOOLED,
                f"{entry.target} ran with its start recorded in the spool only: {exc.user_message}",
            )
        raise unavailable(entry, exc, durable_from, database_url, writer.trail.spool_path) from exc
    return StartedRecord(record.id)


def unavailable(
    entry: AuditEntry,
    cause: LogoMeshError,
    durable_from: RiskLevel,
    database_url: str,
    spool_path: Path,
) -> AuditUnavailableError:
    return AuditUnavailableError(
        f"{entry.target} did not run: commands of risk {durable_from} and above run only "
        f"once their start is on record (`audit.durable_from`), and the audit trail can keep "
        f"no record now, neither in the database ({_display(database_url)}) nor in the "
        f"spool ({spool_path}). Free disk space or fix the permissions of those paths (the "
        f"state directory {spool_path.parent}), then run it again; `logomesh status` shows "
        f"the trail's state. The cause: {cause.user_message}"
    )


def _display(url: str) -> str:
    try:
        return displayed_url(url)
    except ArgumentError:
        return "the configured `database.url`"
