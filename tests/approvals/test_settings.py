"""The approval settings: defaults per mode, and bad values named with where they came from."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from logomesh.commands.values import RiskLevel
from logomesh.config import LoadedSettings, load_settings
from logomesh.errors import ConfigError


def test_two_person_is_off_locally_and_on_for_danger_in_team_mode(
    load: Callable[..., LoadedSettings], tmp_path: Path
) -> None:
    assert load().settings.security.two_person == ()
    team = load({"mode": "team", "database": {"url": f"sqlite:///{tmp_path / 't.db'}"}})
    assert team.settings.security.two_person == (RiskLevel.DANGER,)
    assert team.provenance["security.two_person"] == "mode:team"


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ('two_person = ["huge"]', "`security.two_person.0`"),
        ("approval_timeout_s = 0", "`security.approval_timeout_s`"),
    ],
)
def test_bad_approval_settings_name_the_file_and_key(
    workspace: Path, test_env: dict[str, str], toml: str, named: str
) -> None:
    config = Path(test_env["XDG_CONFIG_HOME"]) / "logomesh" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f"[security]\n{toml}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(workspace, environ=test_env)
    assert named in caught.value.user_message
    assert f"{config}:2" in caught.value.user_message
