"""The job queue of distributed work: procrastinate's schema, and the results a run waits for.

Revision ID: 0006_job_queue
Revises: 0005_pgvector
Create Date: 2026-12-02

PostgreSQL only: procrastinate lives on team mode's database, and a SQLite workspace has no
workers to share it with (``logomesh worker`` refuses SQLite). Its schema is applied as
procrastinate ships it (``SchemaManager.get_schema()``), inside this migration's
transaction, so a failure leaves neither half. ``job_results`` keeps each job's
``CommandResult`` (redacted, as a step's output is) for the process that waits for it: the
job rows are procrastinate's and say only how a job ended, not what it returned.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_job_queue"
down_revision = "0005_pgvector"
branch_labels = None
depends_on = None

# What procrastinate's schema creates, for the downgrade: it ships no script of its own.
_DROP_PROCRASTINATE = """
DO $$
DECLARE item record;
BEGIN
    FOR item IN SELECT tablename FROM pg_tables
                 WHERE schemaname = current_schema() AND tablename LIKE 'procrastinate\\_%'
    LOOP EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', item.tablename); END LOOP;
    FOR item IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
                  JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\\_%'
    LOOP EXECUTE format('DROP FUNCTION IF EXISTS %s CASCADE', item.signature); END LOOP;
    FOR item IN SELECT t.typname FROM pg_type t
                  JOIN pg_namespace n ON n.oid = t.typnamespace
                 WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate\\_%'
                   AND t.typtype IN ('e', 'c')
    LOOP EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', item.typname); END LOOP;
END $$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    from procrastinate.schema import SchemaManager  # the team extra; PostgreSQL only

    # The driver's own execute: procrastinate's SQL is many statements and PL/pgSQL bodies
    # whose colons SQLAlchemy's text() would take for bind parameters.
    op.get_bind().exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))
    op.create_table(
        "job_results",
        sa.Column("job_id", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("correlation_id", sa.String(64), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("worker", sa.String(300), nullable=False),
        sa.Column("finished_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_table("job_results")
    op.execute(sa.text(_DROP_PROCRASTINATE))
