"""Audit trail: records, payloads, append-only triggers and the embedding table.

Revision ID: 0001_audit_trail
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from logomesh.storage import dialects

revision = "0001_audit_trail"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_records",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("id", sa.String(32), nullable=False, unique=True),
        sa.Column("timestamp", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("target", sa.Text()),
        sa.Column("arguments", sa.Text(), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("duration_us", sa.BigInteger(), nullable=False),
        sa.Column("correlation_id", sa.String(64)),
        sa.Column("parent_id", sa.String(64)),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("model", sa.String(200)),
        sa.Column("prompt_hash", sa.String(64)),
        sa.Column("response_hash", sa.String(64)),
        sa.Column("output_hash", sa.String(64)),
        sa.Column("tokens_in", sa.Integer()),
        sa.Column("tokens_out", sa.Integer()),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_records_timestamp", "audit_records", ["timestamp"])
    op.create_index("ix_audit_records_actor", "audit_records", ["actor"])
    op.create_index("ix_audit_records_action", "audit_records", ["action"])
    op.create_index("ix_audit_records_correlation_id", "audit_records", ["correlation_id"])
    op.create_table(
        "audit_payloads",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
    )
    bind = op.get_bind()
    for statement in dialects.append_only_triggers(bind):
        op.execute(statement)
    embeddings = dialects.embedding_table(bind)
    if embeddings:
        op.execute(embeddings)


def downgrade() -> None:
    bind = op.get_bind()
    op.execute("DROP TABLE IF EXISTS audit_embeddings")
    for statement in dialects.drop_append_only_triggers(bind):
        op.execute(statement)
    op.drop_table("audit_payloads")
    op.drop_table("audit_records")
