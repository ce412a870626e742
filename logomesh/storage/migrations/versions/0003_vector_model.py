"""Vector models: which embedding model made the vectors of each vector table.

Revision ID: 0003_vector_model
Revises: 0002_approvals
Create Date: 2026-12-01

A search compares a query with every stored vector, so all of them must come from the model
that embeds the query. ``audit_embeddings`` may be a sqlite-vec ``vec0`` table, which takes
no new column, so the tag is kept here, one row per vector table: every vector in
``audit_embeddings`` was made by the model named in its row. Vectors stored before this
revision have no row: their model is unknown, and the embedding worker embeds them again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_vector_model"
down_revision = "0002_approvals"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vector_models",
        sa.Column("vector_table", sa.String(100), primary_key=True),
        sa.Column("model", sa.String(500), nullable=False),
        sa.Column("dimensions", sa.Integer(), nullable=False),
        sa.Column("since", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("vector_models")
