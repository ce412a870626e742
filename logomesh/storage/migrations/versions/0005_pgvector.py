"""placeholder; the pgvector branch replaces it

Revision ID: 0005_pgvector
Revises: 0004_pipeline_runs
Create Date: 2026-12-02
"""

revision = "0005_pgvector"
down_revision = "0004_pipeline_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
