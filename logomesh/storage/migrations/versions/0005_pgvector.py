"""The embedding table on PostgreSQL: pgvector with an HNSW index, or bytea without it.

Revision ID: 0005_pgvector
Revises: 0004_pipeline_runs
Create Date: 2026-12-02

Migration 0001 made SQLite's table (sqlite-vec or BLOB) and left PostgreSQL without one.
Here PostgreSQL gets it: ``CREATE EXTENSION IF NOT EXISTS vector`` is tried in a savepoint
(it needs a superuser, and the server may not have pgvector at all), then the table is a
``vector(384)`` column with an HNSW index for cosine distance, or, without pgvector 0.8 or
later, a ``bytea`` column of float32 values that the in-memory index reads. A later
``CREATE EXTENSION vector`` is picked up by the next search, which converts the table
(see ``logomesh/storage/pgvector_table.py``). A no-op on SQLite. The downgrade drops the
table and leaves the extension, which other schemas may use.
"""

from alembic import op

from logomesh.storage import dialects

revision = "0005_pgvector"
down_revision = "0004_pipeline_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in dialects.postgresql_embedding_table(op.get_bind()):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE IF EXISTS audit_embeddings")
