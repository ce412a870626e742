"""``logomesh init --team URL`` through the real console script against a real PostgreSQL:
the file it writes (never the password), the migrated database, the trail it starts there,
a later command that runs in team mode on it; and the URLs it must refuse, writing nothing."""

from __future__ import annotations

import getpass
import json
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import make_url

from logomesh.builtin.engine_commands import WORKSPACE_TEMPLATE
from logomesh.builtin.team_init import with_team_settings, write_team_settings
from logomesh.errors import ConfigError
from logomesh.storage.schema import HEAD_REVISION
from tests.cli.conftest import Run
from tests.postgres import PgServer

PASSWORD = "n0t-4-f1le-s3cret"


def _with_password(url: str) -> str:
    return url.replace("postgres@", f"postgres:{PASSWORD}@", 1)


def test_init_team_writes_mode_and_url_without_password_migrates_and_starts_the_trail(
    cli: Callable[..., Run],
    workspace: Path,
    pg_server: PgServer,
    pg_database: str,
    test_env: dict[str, str],
) -> None:
    url = pg_server.url(pg_database)

    done = cli("init", "--team", _with_password(url))

    assert done.code == 0, done.err
    written = (workspace / "logomesh.toml").read_text(encoding="utf-8")
    assert PASSWORD not in written and PASSWORD not in done.out + done.err
    settings = tomllib.loads(written)
    assert settings["mode"] == "team" and make_url(settings["database"]["url"]) == make_url(url)
    assert "busy_timeout_ms" in settings["database"]  # the rest of the template is kept
    assert "PGPASSWORD" in done.out and "docs/team.md" in done.out
    assert pg_server.execute("SELECT version_num FROM alembic_version", pg_database) == [
        (HEAD_REVISION,)
    ]
    trail = pg_server.execute("SELECT action, arguments, target FROM audit_records", pg_database)
    assert [row[0] for row in trail] == ["workspace.init"]
    assert not any(PASSWORD in str(value) for row in trail for value in row)

    # The next process reads the file: team mode on the shared database (roles required).
    _admin_in_user_config(test_env)
    status = cli("status", "--json")
    assert status.code == 0, status.err
    shown = status.json()["data"]
    assert shown["mode"] == "team" and make_url(shown["database"]) == make_url(url)
    assert shown["audit_records"] == 1  # init's record (status writes its own after reading)

    again = cli("init", "--team", url)  # safe to run again: nothing left to change
    assert again.code == 0, again.err
    assert (workspace / "logomesh.toml").read_text(encoding="utf-8") == written


def _admin_in_user_config(test_env: dict[str, str]) -> None:
    """Team mode requires roles: the OS user running the CLI is an admin."""
    user = Path(test_env["XDG_CONFIG_HOME"]) / "logomesh" / "config.toml"
    user.parent.mkdir(parents=True, exist_ok=True)
    user.write_text(
        f'[[security.identities]]\nname = "me"\nroles = ["admin"]\ncli = ["{getpass.getuser()}"]\n',
        encoding="utf-8",
    )


def test_a_local_trail_copied_then_joined_verifies_on_the_team_database(
    cli: Callable[..., Run],
    workspace: Path,
    pg_server: PgServer,
    pg_database: str,
    test_env: dict[str, str],
) -> None:
    """docs/team.md's path for an existing trail: db copy, then init --team, then verify."""
    url = pg_server.url(pg_database)
    assert cli("init").code == 0  # a local trail: init's record
    assert cli("audit", "checkpoint").code == 0  # vouches for a record the copy will have
    copied = cli("db", "copy", "--to", url, "--json")
    assert copied.code == 0, copied.err
    assert copied.json()["data"]["verified"]["checkpoints_checked"] == 1
    # The local trail goes on after the copy (this signs db copy's own record): a
    # checkpoint of a record the team's chain will never have.
    assert cli("audit", "checkpoint").code == 0
    checkpoints = workspace / ".logomesh" / "audit-checkpoints.jsonl"
    before = checkpoints.read_text(encoding="utf-8")

    joined = cli("init", "--team", url, "--json")

    assert joined.code == 0, joined.err
    data = joined.json()["data"]
    assert data["trusted"]  # init trusted the file it made; editing it keeps that
    assert data["checkpoints_set_aside"] == 1
    aside = Path(data["checkpoints_aside_file"])
    assert aside.read_text(encoding="utf-8") == before  # the old file, whole and unchanged
    assert checkpoints.read_text(encoding="utf-8") == before.splitlines(keepends=True)[0]
    _admin_in_user_config(test_env)
    verified = cli("audit", "verify", "--json")
    assert verified.code == 0, verified.out + verified.err
    assert verified.json()["data"]["ok"] and verified.json()["data"]["checkpoints_checked"] == 1
    rerun = cli("init", "--team", url, "--json")  # already on it: nothing is set aside
    assert rerun.code == 0 and rerun.json()["data"]["checkpoints_set_aside"] == 0


def test_joining_edits_a_cloned_workspace_file_without_trusting_it(
    cli: Callable[..., Run], workspace: Path, pg_url: str
) -> None:
    (workspace / "logomesh.toml").write_text("[audit]\ncheckpoint_every = 50\n", encoding="utf-8")

    done = cli("init", "--team", pg_url, "--json")

    assert done.code == 0, done.err
    assert not done.json()["data"]["trusted"]  # review it, then `logomesh trust`
    settings = tomllib.loads((workspace / "logomesh.toml").read_text(encoding="utf-8"))
    assert settings["mode"] == "team" and settings["audit"] == {"checkpoint_every": 50}


def test_an_unreachable_team_database_names_host_and_option_and_writes_nothing(
    cli: Callable[..., Run], workspace: Path
) -> None:
    done = cli("init", "--team", f"postgresql+psycopg://team:{PASSWORD}@127.0.0.1:1/logomesh")

    assert done.code != 0
    assert "127.0.0.1:1/logomesh" in done.err and "`logomesh init --team URL`" in done.err
    assert PASSWORD not in done.out + done.err
    assert not (workspace / "logomesh.toml").exists()


def test_a_sqlite_url_is_no_team_database(cli: Callable[..., Run], workspace: Path) -> None:
    done = cli("init", "--team", "sqlite:///shared.db")

    assert done.code == 2
    assert "PostgreSQL" in done.err
    assert not (workspace / "logomesh.toml").exists()


URL = "postgresql+psycopg://db.example/logomesh"


@pytest.mark.parametrize(
    "before",
    [
        WORKSPACE_TEMPLATE,
        '# ours\nmode = "local"  # for now\n\n[database]\nurl = "sqlite:///old.db"\n\n'
        "[audit]\ncheckpoint_every = 50\n",
        "# no mode, no database table\n[audit]\ncheckpoint_every = 50",
    ],
    ids=["template", "existing-url", "no-database-table"],
)
def test_existing_settings_are_edited_in_place_keeping_the_rest(before: str) -> None:
    after = with_team_settings(before, URL)

    parsed = tomllib.loads(after)
    assert parsed["mode"] == "team" and parsed["database"]["url"] == URL
    kept = tomllib.loads(before)
    kept.pop("mode", None)
    kept.get("database", {}).pop("url", None)
    for table, values in kept.items():
        assert {k: parsed[table][k] for k in values} == values
    comments = [line for line in before.splitlines() if line.lstrip().startswith("# ")]
    assert all(line in after for line in comments if "url =" not in line)


def test_a_file_it_cannot_edit_safely_is_left_alone_saying_what_to_write(
    tmp_path: Path,
) -> None:
    config = tmp_path / "logomesh.toml"
    config.write_text('database.url = "sqlite:///old.db"\n', encoding="utf-8")

    with pytest.raises(ConfigError, match=r"Set them by hand") as raised:
        write_team_settings(config, WORKSPACE_TEMPLATE, URL)

    assert json.dumps(URL) in raised.value.user_message
    assert config.read_text(encoding="utf-8") == 'database.url = "sqlite:///old.db"\n'
