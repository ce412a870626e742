"""Approvals: tickets for requests that wait for a person, and the decisions made on them.

Revision ID: 0002_approvals
Revises: 0001_audit_trail
Create Date: 2026-12-01

Plain tables and indexes only (no dialect-specific SQL), so PostgreSQL takes it as is.
Times are RFC 3339 text in UTC, as in the audit tables, so they compare and sort as text.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_approvals"
down_revision = "0001_audit_trail"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approval_tickets",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("command", sa.String(200), nullable=False),
        sa.Column("arguments", sa.Text(), nullable=False),
        sa.Column("arguments_digest", sa.String(64), nullable=False),
        sa.Column("requester", sa.String(200), nullable=False),
        sa.Column("requester_source", sa.String(20), nullable=False),
        sa.Column("risk", sa.String(20), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("expires_at", sa.String(32), nullable=False),
        sa.Column("approvals_required", sa.Integer(), nullable=False),
        sa.Column("separate_approver", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("decided_at", sa.String(32)),
        sa.Column("seal", sa.String(64), nullable=False),
    )
    op.create_index("ix_approval_tickets_correlation_id", "approval_tickets", ["correlation_id"])
    op.create_index(
        "ix_approval_tickets_state_expires_at", "approval_tickets", ["state", "expires_at"]
    )
    op.create_table(
        "approval_decisions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("ticket_id", sa.String(32), sa.ForeignKey("approval_tickets.id"), nullable=False),
        sa.Column("approver", sa.String(200), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("approve", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("decided_at", sa.String(32), nullable=False),
    )
    op.create_index("ix_approval_decisions_ticket_id", "approval_decisions", ["ticket_id"])


def downgrade() -> None:
    op.drop_table("approval_decisions")
    op.drop_table("approval_tickets")
