"""The schema revision this code expects, checkable without importing Alembic.

Every engine start asks "is the schema current?". Answering through Alembic costs ~0.15 s of
imports and a scan of the revision files; one SELECT answers it when the answer is yes, and
Alembic is loaded only when there is something to migrate. A test keeps ``HEAD_REVISION``
equal to Alembic's head, so adding a migration without updating it fails the suite.
"""

from __future__ import annotations

from sqlalchemy import inspect, text

from logomesh.storage.database import Database

HEAD_REVISION = "0007_shared_checkpoints"


def current_revision(db: Database) -> str | None:
    with db.read() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def is_current(db: Database) -> bool:
    return current_revision(db) == HEAD_REVISION
