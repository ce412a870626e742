"""Pipeline runs and their steps.

Revision ID: 0004_pipeline_runs
Revises: 0003_vector_model
Create Date: 2026-12-01

A run keeps the digest of the file it ran, who started it, its (redacted) inputs, its state
and timings, and the host and process running it, so a run whose process died is shown as
interrupted rather than running forever. A step row per step (and per ``for_each`` item)
keeps its state, attempts, timings, outcome, redacted output and the audit record of its
last attempt, which links it to the trail.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_pipeline_runs"
down_revision = "0003_vector_model"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_runs",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("pipeline", sa.String(200), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("started_at", sa.String(32), nullable=False),
        sa.Column("finished_at", sa.String(32)),
        sa.Column("error", sa.Text()),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("pid_started_at", sa.Float(), nullable=False),
        sa.Column("cancel_requested_at", sa.String(32)),
    )
    op.create_index(
        "ix_pipeline_runs_pipeline_started_at", "pipeline_runs", ["pipeline", "started_at"]
    )
    op.create_index("ix_pipeline_runs_state", "pipeline_runs", ["state"])
    op.create_table(
        "pipeline_steps",
        sa.Column("run_id", sa.String(32), sa.ForeignKey("pipeline_runs.id"), primary_key=True),
        sa.Column("step_id", sa.String(200), primary_key=True),
        sa.Column("item", sa.Integer(), primary_key=True),
        sa.Column("command", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.String(32)),
        sa.Column("finished_at", sa.String(32)),
        sa.Column("outcome", sa.String(20)),
        sa.Column("output", sa.Text()),
        sa.Column("error", sa.Text()),
        sa.Column("audit_id", sa.String(32)),
    )


def downgrade() -> None:
    op.drop_table("pipeline_steps")
    op.drop_index("ix_pipeline_runs_state", "pipeline_runs")
    op.drop_index("ix_pipeline_runs_pipeline_started_at", "pipeline_runs")
    op.drop_table("pipeline_runs")
