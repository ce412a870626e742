"""The procrastinate app of one engine: its connector on the engine's PostgreSQL, and the
one task a LogoMesh job runs.

procrastinate speaks libpq (psycopg 3), LogoMesh's ``database.url`` is an SQLAlchemy URL:
:func:`conninfo` turns one into the other, password included but never shown; every
message names the URL with the password hidden. A worker keeps a pool (its jobs, heartbeat
and listener share it); the side that only enqueues and aborts opens no pool at all
(``AsyncNullConnectionPool``: one connection per call), so a pipeline run holds no
connection while it waits, and nothing in it is bound to one event loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import make_url

from logomesh.errors import QueueUnreachableError, WorkerNeedsPostgresError
from logomesh.storage.database import displayed_url

if TYPE_CHECKING:
    import procrastinate

    from logomesh.config import Settings

# Where to read about team mode's database, in every "needs PostgreSQL" message.
TEAM_DOC = "docs/team.md"


def require_postgres(settings: Settings, what: str, *, steps: bool = False) -> str:
    """The engine's database URL, or the error that says ``what`` needs PostgreSQL
    (``steps``: and that a pipeline's steps can run here instead)."""
    url = settings.database_url
    if make_url(url).get_backend_name() != "postgresql":
        local = "; or run the steps here with `executor: local`" if steps else ""
        raise WorkerNeedsPostgresError(
            f"{what} needs team mode's PostgreSQL: the job queue lives in the shared "
            f"database, and `database.url` is {shown(url)}. Set `database.url` (or "
            f"LOGOMESH_DATABASE__URL) to a postgresql+psycopg:// URL, see {TEAM_DOC}{local}."
        )
    return url


def shown(url: str) -> str:
    """``url`` as messages show it: the password hidden."""
    return displayed_url(url)


def conninfo(url: str) -> str:
    """The libpq connection string of an SQLAlchemy PostgreSQL URL."""
    from psycopg.conninfo import make_conninfo

    parsed = make_url(url)
    params: dict[str, Any] = {
        "dbname": parsed.database,
        "user": parsed.username,
        "password": parsed.password,
        "host": parsed.host,
        "port": parsed.port,
    }
    for key, value in parsed.query.items():  # ?host=/socket/dir, sslmode=...
        params[key] = value if isinstance(value, str) else value[-1]
    return make_conninfo("", **{k: v for k, v in params.items() if v is not None})


def make_app(settings: Settings, *, pool_size: int | None = None) -> procrastinate.App:
    """The engine's procrastinate app; ``pool_size``: a worker's pool, None: no pool."""
    import procrastinate
    import psycopg_pool

    from logomesh.workers.job import TASK_NAME
    from logomesh.workers.task import run_command

    info = conninfo(require_postgres(settings, "A distributed step", steps=True))
    if pool_size is None:
        connector = procrastinate.PsycopgConnector(
            conninfo=info, pool_factory=psycopg_pool.AsyncNullConnectionPool
        )
    else:
        connector = procrastinate.PsycopgConnector(conninfo=info, min_size=1, max_size=pool_size)
    app = procrastinate.App(connector=connector)
    app.task(name=TASK_NAME, pass_context=True)(run_command)
    return app


@contextlib.asynccontextmanager
async def opened(settings: Settings, *, pool_size: int | None = None) -> AsyncIterator[Any]:
    """The app, open; a database that refuses us is a :class:`QueueUnreachableError`."""
    import psycopg

    app = make_app(settings, pool_size=pool_size)
    try:
        # One plain connection first: a pool that cannot connect retries for 30 s before
        # it gives up, and a refused connection should say so at once.
        probe = await psycopg.AsyncConnection.connect(conninfo(settings.database_url),
                                                      connect_timeout=10)  # fmt: skip
        await probe.close()
        await app.open_async()
    except Exception as exc:  # psycopg's and procrastinate's connection errors alike
        raise unreachable(settings, exc) from exc
    try:
        yield app
    finally:
        await app.close_async()


def unreachable(settings: Settings, exc: BaseException) -> QueueUnreachableError:
    url = make_url(settings.database_url)
    reason = str(exc.__cause__ or exc).strip().splitlines()[0] if str(exc) else type(exc).__name__
    if url.password:
        reason = reason.replace(url.password, "***")
    host = url.host or url.query.get("host") or "localhost"
    return QueueUnreachableError(
        f"The job queue on {host} (`database.url` = {shown(settings.database_url)}) could "
        f"not be reached: {reason}. Check that PostgreSQL is up and the URL's host, user and "
        "password are right; `logomesh db status` says the same from here."
    )
