"""PostgreSQL, team mode's shared database: where it is, what it must be, and its errors.

A team points ``database.url`` at one PostgreSQL for every bot, editor and build machine.
What goes wrong there is about the server, not a file: it is down or the host is wrong, the
password is wrong, the database was never created, the server is too old. This module
turns the driver's text for each into a message that names the host, port, database and
the setting to change, and never the password (:class:`PgTarget` keeps it out of ``repr``
and every message). The SQL only PostgreSQL speaks (its trigger syntax) lives here too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from sqlalchemy import make_url

from logomesh.errors import (
    DatabaseAuthError,
    DatabaseLockedError,
    DatabaseMissingError,
    DatabaseUnreachableError,
    StorageError,
)

# The oldest PostgreSQL LogoMesh runs on: 13 has `EXECUTE FUNCTION` triggers without the old
# `PROCEDURE` spelling, and the oldest release still supported when team mode was written.
MIN_SERVER_VERSION = 13
SETTING = "`database.url` (environment variable LOGOMESH_DATABASE__URL)"

APPEND_ONLY_TRIGGERS = (
    """CREATE OR REPLACE FUNCTION logomesh_audit_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit_records is append-only'; END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records
       FOR EACH ROW EXECUTE FUNCTION logomesh_audit_append_only()""",
)
DROP_APPEND_ONLY_TRIGGERS = (
    "DROP TRIGGER IF EXISTS audit_records_append_only ON audit_records",
    "DROP FUNCTION IF EXISTS logomesh_audit_append_only()",
)
# Migration 0007's shared checkpoints: the same protection, with its own function (0001's
# names audit_records in its message, and a released revision's SQL is never changed).
CHECKPOINT_APPEND_ONLY_TRIGGERS = (
    """CREATE OR REPLACE FUNCTION logomesh_checkpoints_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit_checkpoints is append-only'; END $$ LANGUAGE plpgsql""",
    """CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE
       ON audit_checkpoints
       FOR EACH ROW EXECUTE FUNCTION logomesh_checkpoints_append_only()""",
)
DROP_CHECKPOINT_APPEND_ONLY_TRIGGERS = (
    "DROP TRIGGER IF EXISTS audit_checkpoints_append_only ON audit_checkpoints",
    "DROP FUNCTION IF EXISTS logomesh_checkpoints_append_only()",
)


@dataclass(frozen=True)
class PgTarget:
    """The server and database a PostgreSQL URL names; the password never shows."""

    host: str | None  # a name, an address, a Unix socket directory; None: libpq's default
    port: int
    database: str
    user: str | None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str) -> PgTarget:
        parsed = make_url(url)
        query = {key: str(value) for key, value in parsed.query.items()}
        host = parsed.host or query.get("host") or os.environ.get("PGHOST") or None
        port = parsed.port or int(query.get("port") or 5432)
        return cls(
            host=host,
            port=port,
            database=parsed.database or parsed.username or "postgres",
            user=parsed.username,
            password=parsed.password,
        )

    @property
    def where(self) -> str:
        """``host H port P database D``: how every message names the server."""
        host = self.host or "(the local socket, libpq's default)"
        return f"host {host} port {self.port} database {self.database}"

    def libpq_env(self) -> dict[str, str]:
        """The PG* variables libpq programs (pg_dump, psql) read: the password goes to
        them through the environment, never on a command line others can list."""
        env = {"PGPORT": str(self.port), "PGDATABASE": self.database}
        if self.host:
            env["PGHOST"] = self.host
        if self.user:
            env["PGUSER"] = self.user
        if self.password:
            env["PGPASSWORD"] = self.password
        return env

    def scrub(self, text: str) -> str:
        """``text`` with the password cut out, should a driver ever echo it."""
        return text.replace(self.password, "***") if self.password else text


def connect_error(target: PgTarget, detail: str, busy_timeout_ms: int) -> StorageError:
    """The error for a failed PostgreSQL operation, from the driver's own text."""
    detail = target.scrub(detail.strip())
    lowered = detail.lower()
    first_line = detail.splitlines()[0] if detail else "no detail"
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return DatabaseAuthError(
            f"PostgreSQL at {target.where} refused the login of user {target.user!r}: wrong "
            f"password or no password given. Put the right password in {SETTING}, or in "
            "~/.pgpass, and retry."
        )
    if "role" in lowered and "does not exist" in lowered:
        return DatabaseAuthError(
            f"PostgreSQL at {target.where} has no user {target.user!r}. Create it (CREATE "
            f"ROLE ... LOGIN PASSWORD ...) or name an existing one in {SETTING}."
        )
    if "database" in lowered and "does not exist" in lowered:
        return DatabaseMissingError(
            f"PostgreSQL at {target.where}: the database {target.database!r} does not exist. "
            f"Create it (createdb {target.database}, or CREATE DATABASE) or name another in "
            f"{SETTING}."
        )
    if "lock timeout" in lowered:
        return DatabaseLockedError(
            f"The database PostgreSQL at {target.where} stayed locked by another process "
            f"(another LogoMesh writer, or a session holding a table this needs) for longer "
            f"than the busy timeout ({busy_timeout_ms} ms). Nothing was written. Retry, or "
            "raise `database.busy_timeout_ms`."
        )
    if any(sign in lowered for sign in _UNREACHABLE):
        return DatabaseUnreachableError(
            f"Cannot reach PostgreSQL at {target.where} ({first_line}). Check that the "
            f"server is running and that the host and port in {SETTING} are right."
        )
    return StorageError(f"Database error on PostgreSQL at {target.where}: {detail}")


_UNREACHABLE = (
    "connection refused",
    "no such file or directory",  # no socket: no server in that directory
    "could not connect",
    "connection to server",
    "failed to resolve host",
    "could not translate host name",
    "name or service not known",
    "timeout expired",
    "server closed the connection",
    "terminating connection",
    "the database system is",  # ... shutting down / starting up / in recovery mode
    "connection is closed",
    "consuming input failed",
    "ssl syscall error",
)


def parse_server_version(number: int) -> str:
    """``180004`` (libpq's number) as ``"18.4"``; releases before 10 as ``"9.6.24"``."""
    major = number // 10000
    if major >= 10:
        return f"{major}.{number % 10000}"
    return f"{number // 10000}.{number // 100 % 100}.{number % 100}"


def check_server_version(number: int, target: PgTarget) -> None:
    """Refuse a server older than :data:`MIN_SERVER_VERSION`, naming both versions."""
    if number // 10000 < MIN_SERVER_VERSION:
        raise StorageError(
            f"PostgreSQL at {target.where} is version {parse_server_version(number)}; "
            f"LogoMesh needs PostgreSQL {MIN_SERVER_VERSION} or newer. Upgrade the server or "
            f"point {SETTING} at a newer one.",
            code="storage.unsupported",
        )


def missing_driver(target: PgTarget, exc: BaseException) -> StorageError:
    return StorageError(
        f"Cannot open PostgreSQL at {target.where}: its driver is not installed ({exc}). "
        "Install LogoMesh's postgres extra (pip install 'logomesh[postgres]', which brings "
        f"psycopg 3), or point {SETTING} at a SQLite file.",
        code="storage.driver_missing",
    )
