"""Settings layers, provenance, and errors that name the file, line, variable or flag at fault."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Mode
from logomesh.config import LoadedSettings
from logomesh.engine import Engine
from logomesh.errors import ConfigError

USER_TOML = """\
# per-user defaults
[database]
busy_timeout_ms = 1
keep_backups = 2

[commands]
default_timeout_s = 9.5

[audit]
checkpoint_every = 3
"""
WORKSPACE_TOML = """\
[database]
busy_timeout_ms = 4
keep_backups = 5

[audit]
writer_batch = 6
"""


@pytest.fixture
def user_file(test_env: dict[str, str]) -> Path:
    path = Path(test_env["XDG_CONFIG_HOME"]) / "logomesh" / "config.toml"
    path.parent.mkdir(parents=True)
    return path


@pytest.fixture
def workspace_file(workspace: Path) -> Path:
    return workspace / "logomesh.toml"


def _config_error(load: Callable[..., LoadedSettings], *args: Any, **kwargs: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load(*args, **kwargs)
    return caught.value


def test_defaults_without_any_file(load: Callable[..., LoadedSettings], workspace: Path) -> None:
    """With no files, variables or flags, the built-in defaults apply and no file is named."""
    loaded = load()
    assert loaded.settings.mode is Mode.LOCAL
    assert loaded.settings.database.busy_timeout_ms == 5000
    assert loaded.settings.workspace == workspace.resolve()
    assert loaded.files == ()
    assert "database.busy_timeout_ms" not in loaded.provenance


def test_layers_override_in_order_and_say_where(
    load: Callable[..., LoadedSettings], user_file: Path, workspace_file: Path
) -> None:
    """defaults < user config < workspace file < LOGOMESH_* env < flags, each value traced."""
    user_file.write_text(USER_TOML)
    workspace_file.write_text(WORKSPACE_TOML)
    loaded = load(
        flags={"audit": {"checkpoint_every": 9}},
        LOGOMESH_DATABASE__BUSY_TIMEOUT_MS="7",
        LOGOMESH_AUDIT__CHECKPOINT_EVERY="8",
    )
    settings, where = loaded.settings, loaded.provenance

    assert settings.database.auto_migrate is True  # default
    assert settings.commands.default_timeout_s == 9.5  # user file only
    assert settings.database.keep_backups == 5  # workspace beats user
    assert settings.database.busy_timeout_ms == 7  # env beats both files
    assert settings.audit.checkpoint_every == 9  # flag beats env

    assert where["commands.default_timeout_s"] == f"{user_file}:7"
    assert where["database.keep_backups"] == f"{workspace_file}:3"
    assert where["database.busy_timeout_ms"] == "env LOGOMESH_DATABASE__BUSY_TIMEOUT_MS"
    assert where["audit.checkpoint_every"] == "flag --audit-checkpoint-every"
    assert "database.auto_migrate" not in where
    assert loaded.files == (user_file, workspace_file)


def test_config_show_lists_each_value_with_its_source(
    make_engine: Callable[..., Engine], workspace_file: Path, owner: Actor
) -> None:
    """config.show reports every leaf setting, where it came from, and derived defaults."""
    workspace_file.write_text(WORKSPACE_TOML)
    engine = make_engine(LOGOMESH_DATABASE__BUSY_TIMEOUT_MS="7")
    result = run_sync(engine, CommandRequest("config.show", owner))
    rows = {row["key"]: row for row in result.data}
    assert rows["database.busy_timeout_ms"] == {
        "key": "database.busy_timeout_ms",
        "value": 7,
        "source": "env LOGOMESH_DATABASE__BUSY_TIMEOUT_MS",
    }
    assert rows["database.keep_backups"]["source"] == f"{workspace_file}:3"
    assert rows["database.auto_migrate"]["source"] == "default"
    assert rows["database.url"]["value"].startswith("sqlite:///")
    assert rows["database.url"]["source"] == "default (derived)"


def test_malformed_toml_names_file_and_line(
    load: Callable[..., LoadedSettings], workspace_file: Path
) -> None:
    """A syntax error is a config.parse error naming the file and the line."""
    workspace_file.write_text('mode = "local"\n[database\nbusy_timeout_ms = 3\n')
    error = _config_error(load)
    assert error.code == "config.parse"
    assert str(workspace_file) in error.user_message
    assert "line 2" in error.user_message


def test_malformed_user_config_is_named_too(
    load: Callable[..., LoadedSettings], user_file: Path
) -> None:
    """The per-user file gets the same treatment as the workspace one."""
    user_file.write_text("[audit]\ncheckpoint_every = = 3\n")
    error = _config_error(load)
    assert str(user_file) in error.user_message and "line 2" in error.user_message


def test_wrong_type_names_file_line_and_key(
    load: Callable[..., LoadedSettings], workspace_file: Path
) -> None:
    """``busy_timeout_ms = "soon"`` is refused with where it is and what was expected."""
    workspace_file.write_text('[audit]\nwriter_batch = 5\n\n[database]\nbusy_timeout_ms = "soon"\n')
    error = _config_error(load)
    assert error.code == "config.invalid"
    assert f"{workspace_file}:5" in error.user_message
    assert "`database.busy_timeout_ms`" in error.user_message
    assert "'soon'" in error.user_message and "integer" in error.user_message


def test_wrong_type_inside_an_array_of_tables_names_its_line(
    load: Callable[..., LoadedSettings], user_file: Path
) -> None:
    """An identity's ``roles = "admin"`` (not a list) points at that line and asks for a list."""
    user_file.write_text('[[security.identities]]\nname = "alice"\nroles = "admin"\n')
    error = _config_error(load)
    assert f"{user_file}:3" in error.user_message
    assert "`security.identities.0.roles`" in error.user_message
    assert "list" in error.user_message and "'admin'" in error.user_message


def test_wrong_type_from_env_names_the_variable(load: Callable[..., LoadedSettings]) -> None:
    """A bad value in a LOGOMESH_* variable names that variable, not a file."""
    error = _config_error(load, LOGOMESH_DATABASE__BUSY_TIMEOUT_MS="soon")
    assert "env LOGOMESH_DATABASE__BUSY_TIMEOUT_MS" in error.user_message
    assert "`database.busy_timeout_ms`" in error.user_message


def test_out_of_range_flag_names_the_flag(load: Callable[..., LoadedSettings]) -> None:
    """Constraints (busy timeout >= 0) are checked too, and a flag is named as a flag."""
    error = _config_error(load, flags={"database": {"busy_timeout_ms": -1}})
    assert "flag --database-busy-timeout-ms" in error.user_message
    assert "greater than or equal to 0" in error.user_message


@pytest.mark.parametrize(
    ("toml", "key", "line"),
    [
        ("[database]\nbusy_timeout_ms = 3\nbogus = 1\n", "database.bogus", 3),
        ('colour = "blue"\n', "colour", 1),
        ("[databse]\nurl = 'sqlite://'\n", "databse", 1),
    ],
)
def test_unknown_key_is_named(
    load: Callable[..., LoadedSettings], workspace_file: Path, toml: str, key: str, line: int
) -> None:
    """Misspelt keys and sections are errors, not silently ignored."""
    workspace_file.write_text(toml)
    error = _config_error(load)
    assert f"`{key}`: unknown key" in error.user_message
    assert f"{workspace_file}:{line}" in error.user_message


@pytest.mark.parametrize(
    ("source", "origin"),
    [("file", "logomesh.toml:1"), ("env", "env LOGOMESH_MODE"), ("flag", "flag --mode")],
)
def test_bad_mode_lists_allowed_modes(
    load: Callable[..., LoadedSettings], workspace_file: Path, source: str, origin: str
) -> None:
    """An unknown mode says where it was set and which modes exist."""
    if source == "file":
        workspace_file.write_text('mode = "chaos"\n')
        error = _config_error(load)
    elif source == "env":
        error = _config_error(load, LOGOMESH_MODE="chaos")
    else:
        error = _config_error(load, flags={"mode": "chaos"})
    assert origin in error.user_message
    assert "'chaos'" in error.user_message
    assert "local, team, readonly, offline" in error.user_message


def test_mode_preset_applies_and_explicit_settings_win(
    load: Callable[..., LoadedSettings], workspace_file: Path
) -> None:
    """A mode sets several settings at once; an explicit setting still beats the preset."""
    loaded = load(flags={"mode": "readonly"})
    assert loaded.settings.security.max_risk == "read"
    assert loaded.provenance["security.max_risk"] == "mode:readonly"

    workspace_file.write_text("[llm]\nallow_network = true\n")
    loaded = load(LOGOMESH_MODE="offline")
    assert loaded.settings.llm.allow_network is True
    assert loaded.provenance["mode"] == "env LOGOMESH_MODE"


def test_team_mode_needs_a_database_url(
    load: Callable[..., LoadedSettings], workspace_file: Path
) -> None:
    """Team mode without database.url explains what to set, naming where team mode came from."""
    workspace_file.write_text('mode = "team"\n')
    error = _config_error(load)
    assert f"{workspace_file}:1" in error.user_message
    assert "database.url" in error.user_message and "LOGOMESH_DATABASE__URL" in error.user_message

    loaded = load(LOGOMESH_DATABASE__URL="sqlite:////tmp/team.db")
    assert loaded.settings.mode is Mode.TEAM
    assert loaded.settings.security.require_roles is True


@pytest.mark.parametrize("via", ["file", "env"])
def test_config_show_masks_the_database_password(
    make_engine: Callable[..., Engine], workspace_file: Path, owner: Actor, via: str
) -> None:
    """The password inside database.url never appears in config.show or its warnings."""
    url = "postgresql+psycopg://alice:s3cr3t-pw@db.invalid:5432/logomesh"
    if via == "file":
        workspace_file.write_text(f'[database]\nurl = "{url}"\n')
        engine = make_engine()
    else:
        engine = make_engine(LOGOMESH_DATABASE__URL=url)
    result = run_sync(engine, CommandRequest("config.show", owner))
    assert result.ok, result.message
    [row] = [row for row in result.data if row["key"] == "database.url"]
    assert "s3cr3t-pw" not in str(row["value"])
    assert row["value"].startswith("postgresql+psycopg://alice:") and "db.invalid" in row["value"]
    assert row["source"] == (
        f"{workspace_file}:2" if via == "file" else "env LOGOMESH_DATABASE__URL"
    )
    assert "s3cr3t-pw" not in str(result.to_dict())
