"""Shared checkpoints: every machine's signed checkpoints, beside the trail they vouch for.

Revision ID: 0007_shared_checkpoints
Revises: 0006_job_queue
Create Date: 2026-12-02

Both dialects. A machine keeps the checkpoints it signs in its own file; on a trail shared
by several machines no file holds them all, so each is also published here, where ``audit
verify`` on any machine finds the others' (logomesh.audit.shared_checkpoints). Rows are
append-only, like audit_records: a deleted row is a gap verify reports, not a quiet edit.
A machine may sign the same seq once: the key is (seq, public_key).
"""

import sqlalchemy as sa
from alembic import op

from logomesh.storage import dialects

revision = "0007_shared_checkpoints"
down_revision = "0006_job_queue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("public_key", sa.String(64), primary_key=True),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("signed_at", sa.String(32), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
    )
    for statement in dialects.checkpoint_append_only_triggers(op.get_bind()):
        op.execute(statement)


def downgrade() -> None:
    for statement in dialects.drop_checkpoint_append_only_triggers(op.get_bind()):
        op.execute(statement)
    op.drop_table("audit_checkpoints")
