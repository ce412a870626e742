"""What every LogoMesh session on PostgreSQL is set to, whatever the server's defaults.

SQLite's durability is tested on its files (test_durability.py); on PostgreSQL a commit is
durable when ``synchronous_commit`` is on, and an operator may have turned it off for the
whole database to speed other work up. The audit trail's promise (a danger command runs on
a committed start record) must not depend on that, nor must a writer wait for the audit
lock without end.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from logomesh.engine import Engine
from tests.postgres import PgServer

pytestmark = pytest.mark.postgresql_only("the settings of a PostgreSQL session")


def test_commits_are_durable_and_lock_waits_end_even_if_the_database_says_otherwise(
    pg_server: PgServer, pg_database: str, engine: Engine
) -> None:
    pg_server.execute(f'ALTER DATABASE "{pg_database}" SET synchronous_commit = off')
    pg_server.execute(f'ALTER DATABASE "{pg_database}" SET lock_timeout = 0')
    engine.database.dispose()  # sessions opened from now on get the new defaults
    with engine.database.read() as conn:
        durable = conn.execute(text("SHOW synchronous_commit")).scalar_one()
        waits = conn.execute(
            text("SELECT setting FROM pg_settings WHERE name = 'lock_timeout'")  # in ms
        ).scalar_one()
    assert durable == "on"
    assert int(waits) == engine.settings.database.busy_timeout_ms
    # The audit writer's own connection (the driver's, pinned) is set the same way.
    with engine.database.driver_write() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"


def test_an_other_session_sees_the_server_default(pg_server: PgServer, pg_database: str) -> None:
    """The check above can fail: without LogoMesh's options a session gets the database's."""
    pg_server.execute(f'ALTER DATABASE "{pg_database}" SET synchronous_commit = off')
    assert pg_server.execute("SHOW synchronous_commit", pg_database) == [("off",)]
