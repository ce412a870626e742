"""Reaching a database server before anything is written to it, with an error people can act on.

A wrong host, port, database name, role or password all surface as one driver error from
deep inside a first query. Commands that point LogoMesh at a new database (``db copy --to
URL``, ``init --team URL``) ask here first, so the person is told which server was tried,
which setting or option named it and what to check, before a migration or a copy starts.
The password is never shown: the URL is rendered with it hidden (``Database.display_url``), and
libpq's messages do not quote it.
"""

from __future__ import annotations

from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from logomesh.errors import DatabaseUnreachableError
from logomesh.storage.database import Database

_PG_DEFAULT_PORT = 5432


def server_of(db: Database) -> str:
    """Where the database lives, for people: ``host:port/name`` or the SQLite file."""
    if db.path is not None:
        return str(db.path)
    url = make_url(db.url)
    # libpq also takes the host (a socket directory, too) as a query parameter.
    host = url.host or url.query.get("host") or "the local socket"
    if isinstance(host, tuple):
        host = ",".join(host)
    port = url.port or (_PG_DEFAULT_PORT if db.dialect == "postgresql" else None)
    where = f"{host}:{port}" if port else str(host)
    return f"{where}/{url.database or '(default database)'}"


def check_reachable(db: Database, named_by: str) -> None:
    """Connect once and run ``SELECT 1``; ``named_by`` says where the URL came from (the
    option or setting), for the error."""
    try:
        with db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError as exc:
        raise DatabaseUnreachableError(_unreachable(db, named_by, str(exc.orig))) from exc
    except SQLAlchemyError as exc:
        raise DatabaseUnreachableError(_unreachable(db, named_by, str(exc))) from exc


def _unreachable(db: Database, named_by: str, detail: str) -> str:
    detail = " ".join(detail.split())  # libpq's messages span lines with a tab
    end = "" if detail.endswith((".", "?", "!")) else "."
    login = (
        " If the password is refused, give it through PGPASSWORD or ~/.pgpass (libpq reads "
        "both) rather than in the URL."
        if db.dialect == "postgresql"
        else ""
    )
    return (
        f"Cannot connect to the database at {server_of(db)} ({db.display_url}, from "
        f"{named_by}): {detail}{end} Check the host, port and database name, that the server is "
        f"running and lets this role connect, then run the command again.{login}"
    )
