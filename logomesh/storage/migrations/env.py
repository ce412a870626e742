"""Alembic environment: always run on a connection the migrator hands in.

The migrator owns the transaction (and the backup taken before it), so this file neither
opens connections nor commits; see ``logomesh/storage/migrate.py``.
"""

from alembic import context

from logomesh.storage.tables import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    transaction_per_migration=False,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
