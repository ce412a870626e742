"""The relational schema, as SQLAlchemy 2 typed tables.

Audit records keep their JSON fields as canonical JSON *text* rather than a JSON column:
the hash covers exact bytes, and a database that re-orders keys (PostgreSQL's jsonb) would
make honest records look tampered. Timestamps are RFC 3339 text for the same reason, and
because that text sorts in time order.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only treats INTEGER PRIMARY KEY as the rowid alias; BIGINT elsewhere.
SeqType = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class AuditRecordRow(Base):
    __tablename__ = "audit_records"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    timestamp: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(200))
    target: Mapped[str | None] = mapped_column(Text)
    arguments: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    duration_us: Mapped[int] = mapped_column(BigInteger)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    parent_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text)
    model: Mapped[str | None] = mapped_column(String(200))
    prompt_hash: Mapped[str | None] = mapped_column(String(64))
    response_hash: Mapped[str | None] = mapped_column(String(64))
    output_hash: Mapped[str | None] = mapped_column(String(64))
    tokens_in: Mapped[int | None] = mapped_column(Integer)
    tokens_out: Mapped[int | None] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_records_timestamp", "timestamp"),
        Index("ix_audit_records_actor", "actor"),
        Index("ix_audit_records_action", "action"),
        Index("ix_audit_records_correlation_id", "correlation_id"),
    )


class AuditPayloadRow(Base):
    """Large texts addressed by their SHA-256; prunable without breaking the chain."""

    __tablename__ = "audit_payloads"

    hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)


class AuditCheckpointRow(Base):
    """A signed checkpoint published for the team (migration 0007; see
    logomesh.audit.shared_checkpoints): what each machine also keeps in its own file."""

    __tablename__ = "audit_checkpoints"

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=False)
    public_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(128))


class ApprovalTicketRow(Base):
    """A request waiting for (or settled by) a person's decision; see logomesh.approvals."""

    __tablename__ = "approval_tickets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    correlation_id: Mapped[str] = mapped_column(String(64))
    command: Mapped[str] = mapped_column(String(200))
    arguments: Mapped[str] = mapped_column(Text)  # canonical JSON, redacted
    arguments_digest: Mapped[str] = mapped_column(String(64))
    requester: Mapped[str] = mapped_column(String(200))
    requester_source: Mapped[str] = mapped_column(String(20))
    risk: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[str] = mapped_column(String(32))
    expires_at: Mapped[str] = mapped_column(String(32))
    approvals_required: Mapped[int] = mapped_column(Integer)
    separate_approver: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[str] = mapped_column(String(20))
    decided_at: Mapped[str | None] = mapped_column(String(32))
    seal: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_approval_tickets_correlation_id", "correlation_id"),
        Index("ix_approval_tickets_state_expires_at", "state", "expires_at"),
    )


class ApprovalDecisionRow(Base):
    __tablename__ = "approval_decisions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("approval_tickets.id"))
    approver: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(20))
    approve: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[str] = mapped_column(String(32))

    __table_args__ = (Index("ix_approval_decisions_ticket_id", "ticket_id"),)


class VectorModelRow(Base):
    """Which model made every vector of a vector table (migration 0003)."""

    __tablename__ = "vector_models"

    vector_table: Mapped[str] = mapped_column(String(100), primary_key=True)
    model: Mapped[str] = mapped_column(String(500))
    dimensions: Mapped[int] = mapped_column(Integer)
    since: Mapped[str] = mapped_column(String(32))


class PipelineRunRow(Base):
    """One run of a pipeline (migration 0004; see logomesh.pipelines.store)."""

    __tablename__ = "pipeline_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the pipeline file run
    correlation_id: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(200))
    inputs: Mapped[str] = mapped_column(Text)  # canonical JSON, redacted
    state: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[str] = mapped_column(String(32))
    finished_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Who runs it: a run whose process is gone (same host, pid not alive) is interrupted.
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    pid_started_at: Mapped[float] = mapped_column(Float)
    cancel_requested_at: Mapped[str | None] = mapped_column(String(32), nullable=True)

    __table_args__ = (
        Index("ix_pipeline_runs_pipeline_started_at", "pipeline", "started_at"),
        Index("ix_pipeline_runs_state", "state"),
    )


class PipelineStepRow(Base):
    """One step of a run (one row per ``for_each`` item, ``item`` numbering them)."""

    __tablename__ = "pipeline_steps"

    run_id: Mapped[str] = mapped_column(ForeignKey("pipeline_runs.id"), primary_key=True)
    step_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    item: Mapped[int] = mapped_column(Integer, primary_key=True)
    command: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    finished_at: Mapped[str | None] = mapped_column(String(32), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(20), nullable=True)
    output: Mapped[str | None] = mapped_column(Text, nullable=True)  # canonical JSON, redacted
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    audit_id: Mapped[str | None] = mapped_column(String(32), nullable=True)


EMBEDDING_DIMENSIONS = 384
audit_records = cast(Table, AuditRecordRow.__table__)
audit_payloads = cast(Table, AuditPayloadRow.__table__)
audit_checkpoints = cast(Table, AuditCheckpointRow.__table__)
approval_tickets = cast(Table, ApprovalTicketRow.__table__)
approval_decisions = cast(Table, ApprovalDecisionRow.__table__)
pipeline_runs = cast(Table, PipelineRunRow.__table__)
pipeline_steps = cast(Table, PipelineStepRow.__table__)
