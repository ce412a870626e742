"""`logomesh audit key`: the public key a team lists in `audit.trusted_public_keys`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.cli.conftest import Run

CliFn = Callable[..., Run]
OTHER = "ab" * 32


def test_audit_key_prints_the_key_that_signs_this_machines_checkpoints(
    cli: CliFn, workspace: Path
) -> None:
    env = {"LOGOMESH_AUDIT__CHECKPOINT_EVERY": "1"}
    first = cli("audit", "key", "--json", env=env)
    assert first.code == 0, first.err
    data = first.json()["data"]
    key = data["public_key"]
    assert len(key) == 64 and data["created"] is True
    assert Path(data["key_path"]).exists()
    assert data["toml"] == f'trusted_public_keys = ["{key}"]'
    assert cli("run", "whoami", env=env).code == 0
    verified = cli("audit", "verify", "--json", env=env).json()["data"]
    assert verified["ok"], verified["summary"]
    assert verified["checkpoint_keys"] == [key]

    trusted = {**env, "LOGOMESH_AUDIT__TRUSTED_PUBLIC_KEYS": json.dumps([OTHER])}
    again = cli("audit", "key", env=trusted)
    assert again.code == 0, again.err
    assert f"public key {key}." in again.out and "(created now" not in again.out
    assert "[audit]" in again.out
    assert f'trusted_public_keys = ["{OTHER}", "{key}"]' in again.out
