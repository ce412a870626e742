"""A PostgreSQL that cannot be used says why, where and what to change; never the password.

Every fault here is real: a port nobody listens on, a socket directory with no server, a
server of this module's own whose pg_hba.conf asks one user for a password, a database that
was never created, the driver hidden from the import system. Only "too old" is checked on
the function with made-up version numbers (no PostgreSQL 12 ships in the test wheel), and on
the real server with the minimum raised past it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest, CommandResult
from logomesh.commands.values import Actor
from logomesh.engine import Engine
from logomesh.errors import StorageError
from logomesh.storage import postgresql
from logomesh.storage.database import Database
from tests.cli.conftest import LOGOMESH
from tests.postgres import PgServer, start_server

PASSWORD = "Sw0rdf1sh-not-in-any-message"
USER = "lm_team"
SETTING = "LOGOMESH_DATABASE__URL"


@pytest.fixture(scope="module")
def password_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    """A server of this module's own on which ``lm_team`` must give its password."""
    server = start_server(tmp_path_factory.mktemp("pgauth") / "pg")
    hba = Path(server.handle.pgdata) / "pg_hba.conf"
    # First match wins: the team user needs its password, everyone else stays trusted.
    hba.write_text(f"local all {USER} scram-sha-256\n" + hba.read_text(encoding="utf-8"))
    server.execute(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
    server.execute(f"CREATE DATABASE logomesh OWNER {USER}")
    server.execute("SELECT pg_reload_conf()")
    yield server
    server.handle.cleanup()


def _url(server: PgServer, password: str, database: str = "logomesh") -> str:
    return f"postgresql+psycopg://{USER}:{password}@/{database}?host={server.socket_dir}"


def _status(make_engine: Callable[..., Engine], owner: Actor, url: str) -> CommandResult:
    engine = make_engine(**{SETTING: url})
    return run_sync(engine, CommandRequest("db.status", owner))


def _failed(result: CommandResult, code: str, *parts: str) -> str:
    assert not result.ok and result.error is not None, result.message
    assert result.error.code == code, result.error.message
    message = result.error.message
    for part in (*parts, "database.url", SETTING):
        assert part in message, message
    assert PASSWORD not in message and PASSWORD not in json.dumps(result.data)
    return message


def test_the_right_password_opens_the_database(
    password_server: PgServer, make_engine: Callable[..., Engine], owner: Actor
) -> None:
    """The baseline: the password user, with its password in the URL, gets a schema."""
    result = _status(make_engine, owner, _url(password_server, PASSWORD))
    assert result.ok, result.message
    assert result.data["backend"] == "postgresql"
    assert int(result.data["server_version"].split(".")[0]) >= 13
    assert PASSWORD not in result.data["database"]  # shown as ***


def test_a_wrong_password_names_the_server_and_user_never_the_password(
    password_server: PgServer, make_engine: Callable[..., Engine], owner: Actor
) -> None:
    result = _status(make_engine, owner, _url(password_server, "wrong-" + PASSWORD))
    message = _failed(
        result,
        "storage.auth",
        f"host {password_server.socket_dir} port 5432 database logomesh",
        f"user '{USER}'",
        "wrong password",
    )
    assert "wrong-" not in message


def test_the_cli_never_prints_or_spools_the_password(
    password_server: PgServer, workspace: Path, cli_env: dict[str, str]
) -> None:
    """End to end: `logomesh db status` with a wrong password, and a command whose record
    is spooled: neither the output nor the spool file holds the password."""
    import subprocess

    bad = "wrong-" + PASSWORD
    env = {**cli_env, SETTING: _url(password_server, bad)}
    outputs = []
    for args in (["db", "status"], ["run", "whoami", "--json"]):
        done = subprocess.run(
            [str(LOGOMESH), *args], cwd=workspace, env=env, capture_output=True, text=True
        )
        outputs.append(done.stdout + done.stderr)
    status_output, whoami_output = outputs
    assert "refused the login" in status_output and "LOGOMESH_DATABASE__URL" in status_output
    assert "refused the login" in whoami_output  # its record could not be written
    spool = workspace / ".logomesh" / "audit-spool.jsonl"
    assert spool.exists()
    for text in (*outputs, spool.read_text(encoding="utf-8")):
        assert PASSWORD not in text and bad not in text


def test_an_unknown_user_is_named(
    pg_server: PgServer, make_engine: Callable[..., Engine], owner: Actor
) -> None:
    url = f"postgresql+psycopg://nobody_here@/postgres?host={pg_server.socket_dir}"
    _failed(_status(make_engine, owner, url), "storage.auth", "no user 'nobody_here'")


def test_a_database_that_does_not_exist_says_how_to_create_it(
    pg_server: PgServer, make_engine: Callable[..., Engine], owner: Actor
) -> None:
    url = pg_server.url("never_created")
    _failed(
        _status(make_engine, owner, url),
        "storage.missing",
        f"host {pg_server.socket_dir} port 5432 database never_created",
        "createdb never_created",
    )


def test_a_port_nobody_listens_on_is_unreachable(
    make_engine: Callable[..., Engine], owner: Actor
) -> None:
    url = f"postgresql+psycopg://{USER}:{PASSWORD}@127.0.0.1:1/logomesh"
    _failed(
        _status(make_engine, owner, url),
        "storage.unreachable",
        "Cannot reach PostgreSQL at host 127.0.0.1 port 1 database logomesh",
        "server is running",
    )


def test_a_socket_directory_without_a_server_is_unreachable(
    tmp_path: Path, make_engine: Callable[..., Engine], owner: Actor
) -> None:
    empty = tmp_path / "sockets"
    empty.mkdir()
    url = f"postgresql+psycopg://{USER}:{PASSWORD}@/logomesh?host={empty}&port=5433"
    _failed(
        _status(make_engine, owner, url),
        "storage.unreachable",
        f"host {empty} port 5433 database logomesh",
    )


def test_a_host_that_does_not_resolve_is_unreachable(
    make_engine: Callable[..., Engine], owner: Actor
) -> None:
    url = f"postgresql+psycopg://{USER}:{PASSWORD}@no-such-host.invalid:5432/logomesh"
    _failed(
        _status(make_engine, owner, url),
        "storage.unreachable",
        "host no-such-host.invalid port 5432 database logomesh",
    )


@pytest.mark.parametrize(
    ("number", "shown"), [(120022, "12.22"), (90624, "9.6.24"), (100000, "10.0")]
)
def test_a_server_older_than_13_is_refused_naming_both_versions(number: int, shown: str) -> None:
    target = postgresql.PgTarget.from_url(f"postgresql+psycopg://u:{PASSWORD}@db.example/lm")
    with pytest.raises(StorageError) as caught:
        postgresql.check_server_version(number, target)
    message = caught.value.user_message
    assert caught.value.code == "storage.unsupported"
    assert f"version {shown}" in message and "PostgreSQL 13 or newer" in message
    assert "host db.example port 5432 database lm" in message and "database.url" in message
    assert PASSWORD not in message


def test_the_supported_versions_pass() -> None:
    target = postgresql.PgTarget.from_url("postgresql+psycopg://u@db.example/lm")
    for number in (130000, 170005, 180004):
        postgresql.check_server_version(number, target)
    assert postgresql.parse_server_version(180004) == "18.4"


def test_a_missing_driver_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """psycopg hidden from the import system, as on a machine without the postgres extra."""
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(StorageError) as caught:
        Database(f"postgresql+psycopg://{USER}:{PASSWORD}@db.example:6543/team")
    message = caught.value.user_message
    assert caught.value.code == "storage.driver_missing"
    assert "host db.example port 6543 database team" in message
    assert "logomesh[postgres]" in message and SETTING in message
    assert PASSWORD not in message


def test_the_target_never_shows_its_password() -> None:
    target = postgresql.PgTarget.from_url(f"postgresql+psycopg://u:{PASSWORD}@h/d")
    assert PASSWORD not in repr(target) and PASSWORD not in target.where
    assert target.scrub(f"echo {PASSWORD}") == "echo ***"
    assert target.libpq_env()["PGPASSWORD"] == PASSWORD  # for pg_dump, via its environment


def test_the_version_check_runs_on_every_new_connection(
    pg_server: PgServer,
    pg_url: str,
    make_engine: Callable[..., Engine],
    owner: Actor,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The real server (18) against a minimum raised past it: the refusal comes from the
    connection itself, before any migration or audit write."""
    monkeypatch.setattr(postgresql, "MIN_SERVER_VERSION", 99)
    [(version,)] = pg_server.execute("SHOW server_version")
    message = _failed(
        _status(make_engine, owner, pg_url),
        "storage.unsupported",
        f"is version {version.split()[0]}",
        "PostgreSQL 99 or newer",
    )
    assert "Upgrade the server" in message


def test_a_url_without_a_host_is_libpqs_default_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    """No host: libpq connects to its default socket, so pg_dump must get no PGHOST either
    (a made-up "localhost" would send it over TCP, elsewhere)."""
    monkeypatch.delenv("PGHOST", raising=False)
    target = postgresql.PgTarget.from_url("postgresql+psycopg://u@/lm")
    assert target.host is None and "PGHOST" not in target.libpq_env()
    assert target.where == "host (the local socket, libpq's default) port 5432 database lm"
    monkeypatch.setenv("PGHOST", "db.internal")
    assert postgresql.PgTarget.from_url("postgresql+psycopg://u@/lm").host == "db.internal"
