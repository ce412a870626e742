"""``logomesh approvals ...`` and ``logomesh --wait``, as real processes on one SQLite file."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.approvals.conftest import Proc

PRUNE = ("run", "audit.prune", "payloads_older_than=1d")

pytestmark = pytest.mark.slow  # real other processes


def _waiting(workspace: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """`logomesh --wait run audit.prune ...` (a danger command), left waiting."""
    return subprocess.Popen(
        [sys.executable, "-m", "logomesh", "--wait", *PRUNE, "--json"],
        cwd=workspace,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _pending(cli: Callable[..., Proc]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = cli("approvals", "list", "--state", "pending", "--json")
        assert listed.code == 0, listed.err
        if listed.json()["data"]:
            [ticket] = listed.json()["data"]
            return dict(ticket)
        time.sleep(0.2)
    raise AssertionError("no pending ticket appeared")


def test_wait_then_approve_from_another_terminal(
    logomesh_cli: Callable[..., Proc], workspace: Path, proc_env: dict[str, str]
) -> None:
    assert logomesh_cli("init").code == 0
    waiting = _waiting(workspace, proc_env)
    try:
        ticket = _pending(logomesh_cli)
        shown = logomesh_cli("approvals", "show", ticket["id"], "--json")
        assert shown.code == 0, shown.err
        data = shown.json()["data"]
        assert (data["command"], data["state"]) == ("audit.prune", "pending")
        assert data["risk"] == "danger"
        assert data["arguments"]["payloads_older_than"] == "1d"
        approved = logomesh_cli("approvals", "approve", ticket["id"], "--json")
        assert approved.code == 0, approved.err
        assert approved.json()["data"]["state"] == "approved"
        out, err = waiting.communicate(timeout=60)
    finally:
        waiting.kill()
    assert waiting.returncode == 0, err
    assert json.loads(out)["ok"] is True
    assert f"logomesh approvals approve {ticket['id']}" in err  # told how to approve

    again = logomesh_cli("approvals", "approve", ticket["id"], "--json")
    assert again.code == 1
    assert again.json()["error"]["code"] == "approval.already_decided"
    listed = logomesh_cli("approvals", "list")
    assert listed.code == 0 and ticket["id"] in listed.out and "approved" in listed.out


def test_wait_then_decline(
    logomesh_cli: Callable[..., Proc], workspace: Path, proc_env: dict[str, str]
) -> None:
    waiting = _waiting(workspace, proc_env)
    try:
        ticket = _pending(logomesh_cli)
        declined = logomesh_cli("approvals", "decline", ticket["id"], "--reason", "no", "--json")
        assert declined.code == 0, declined.err
        out, _ = waiting.communicate(timeout=60)
    finally:
        waiting.kill()
    assert waiting.returncode == 4  # cancelled
    assert json.loads(out)["outcome"] == "cancelled"


def test_without_terminal_or_wait_fails_fast(logomesh_cli: Callable[..., Proc]) -> None:
    started = time.monotonic()
    refused = logomesh_cli(*PRUNE)
    assert refused.code == 4
    assert "--yes" in refused.err and "--wait" in refused.err
    assert time.monotonic() - started < 30
    assert logomesh_cli("approvals", "list", "--json").json()["data"] == []


def test_bad_input_to_approvals_commands(logomesh_cli: Callable[..., Proc]) -> None:
    unknown = logomesh_cli("approvals", "approve", "nope", "--json")
    assert unknown.code == 1
    assert unknown.json()["error"]["code"] == "approval.unknown"
    assert "approvals list" in unknown.json()["error"]["message"]
    missing = logomesh_cli("approvals", "show", "nope")
    assert missing.code == 1 and "no approval ticket 'nope'" in missing.err
    bad_state = logomesh_cli("approvals", "list", "--state", "maybe", "--json")
    assert bad_state.code == 2
    assert "`state`" in bad_state.json()["error"]["message"]
