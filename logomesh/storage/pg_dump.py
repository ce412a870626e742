"""Backups of a PostgreSQL database with the server's own tool, ``pg_dump``.

LogoMesh copies a SQLite file itself (SQLite's online backup API); a PostgreSQL database is
another machine's business, and ``pg_dump`` is the one tool that takes a consistent copy
of it while others keep writing. It runs as a subprocess with an argv list (no shell), and
the password reaches it through ``PGPASSWORD`` in its environment, never its command line,
where every user of the machine could read it. The dump is PostgreSQL's custom format,
restored with ``pg_restore``; LogoMesh never restores a shared database by itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

from logomesh.errors import BackupError
from logomesh.storage.postgresql import SETTING, PgTarget

DUMP_SUFFIX = ".dump"
# How often a running dump looks at its stop event (a command's deadline).
_POLL_S = 0.05


def find_pg_dump() -> str | None:
    """The ``pg_dump`` on PATH, or None."""
    return shutil.which("pg_dump")


def restore_instructions(target: PgTarget) -> str:
    """How a person restores a dump of ``target``: what ``db restore`` answers on PostgreSQL."""
    return (
        f"LogoMesh does not restore a PostgreSQL database itself (other processes share "
        f"PostgreSQL at {target.where}). Stop every LogoMesh process that uses it, then run "
        f"`pg_restore --clean --if-exists --dbname {target.database} FILE` for a .dump file "
        f"(or `psql --dbname {target.database} --file FILE` for a plain SQL one), with the "
        "host, port and user of `database.url`."
    )


def no_pg_dump(target: PgTarget) -> BackupError:
    return BackupError(
        f"Cannot back up PostgreSQL at {target.where}: pg_dump is not on PATH. Install "
        "PostgreSQL's client tools of the server's version or newer (for example the "
        "postgresql-client package) and retry, or run pg_dump yourself."
    )


def dump(
    target: PgTarget,
    destination: Path,
    *,
    program: str,
    stop: threading.Event | None = None,
) -> Path:
    """Write a custom-format dump of ``target`` to ``destination``; all of it or no file.

    With ``stop``, the dump is killed once it is set and its partial file removed."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    argv = [program, "--format=custom", "--no-password", f"--file={partial}"]
    env = {**os.environ, **target.libpq_env()}
    try:
        proc = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    except OSError as exc:
        where = target.where
        raise BackupError(f"Cannot run {program} to back up PostgreSQL at {where}: {exc}") from exc
    errors = ""
    while True:
        if stop is not None and stop.is_set():
            proc.kill()
            proc.communicate()
            partial.unlink(missing_ok=True)
            raise BackupError(
                f"Backing up PostgreSQL at {target.where} to {destination} was stopped "
                "before it finished; no partial backup file was left."
            )
        try:
            _, errors = proc.communicate(timeout=_POLL_S)
            break
        except subprocess.TimeoutExpired:
            continue
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        detail = target.scrub(errors.strip()).replace("\n", " ") or f"exit {proc.returncode}"
        raise BackupError(
            f"pg_dump could not back up PostgreSQL at {target.where} ({detail}). A server "
            "newer than pg_dump needs PostgreSQL's client tools of its version or newer first "
            f"on PATH; a login problem is fixed in {SETTING}."
        )
    partial.replace(destination)
    return destination
