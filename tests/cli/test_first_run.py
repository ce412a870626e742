"""A new user's first commands: a fresh directory, `make run` without a terminal, `make link`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.cli.conftest import Run

CliFn = Callable[..., Run]
ROOT = Path(__file__).resolve().parents[2]
SET_UP = "was not a LogoMesh workspace, so this command set up its state in"


def test_first_command_sets_up_state_completely_and_says_so(cli: CliFn, workspace: Path) -> None:
    """`status` in a fresh directory: state with its .gitignore, one note naming init."""
    first = cli("status")
    assert first.code == 0, first.err
    state = workspace / ".logomesh"
    assert (state / "logomesh.db").is_file()
    assert (state / ".gitignore").read_text().splitlines()[-1] == "*"
    assert first.err.count(SET_UP) == 1
    assert f"{state}/" in first.err and "Run `logomesh init` there to finish" in first.err

    again = cli("status")
    assert again.code == 0 and SET_UP not in again.err


def test_init_and_help_do_not_print_the_note(cli: CliFn, workspace: Path) -> None:
    helped = cli("--help")
    assert helped.code == 0 and not (workspace / ".logomesh").exists()
    init = cli("init")
    assert init.code == 0, init.err
    assert SET_UP not in init.err
    assert (workspace / ".logomesh" / ".gitignore").is_file()


def test_a_gitignore_removed_by_hand_comes_back(cli: CliFn, workspace: Path) -> None:
    cli("init")
    (workspace / ".logomesh" / ".gitignore").unlink()
    assert cli("status").code == 0
    assert (workspace / ".logomesh" / ".gitignore").is_file()


def test_do_in_a_fresh_directory_says_so_too(cli: CliFn) -> None:
    result = cli("do", "who am i")
    assert result.code == 0, result.err
    assert SET_UP in result.err


def test_shell_without_terminal_says_it_was_not_opened(cli: CliFn) -> None:
    """What `make run` ends on in CI or a pipe: the status, then why there is no prompt."""
    result = cli("shell")
    assert result.code == 0, result.err
    assert "LogoMesh 0.1.0" in result.out
    assert "no terminal (stdin or stdout is not one), so the shell was not opened" in result.err
    assert "run `logomesh shell` in a terminal" in result.err


def _make_link(home: Path, path: str) -> subprocess.CompletedProcess[str]:
    venv = Path(sys.executable).parent.parent  # the venv running these tests, installed
    env = {**os.environ, "HOME": str(home), "PATH": path}
    return subprocess.run(
        ["make", "-s", "-C", str(ROOT), "link", f"VENV={venv}"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_make_link_puts_logomesh_in_local_bin(tmp_path: Path) -> None:
    home = tmp_path / "home"
    linked = home / ".local" / "bin" / "logomesh"
    without = _make_link(home, "/usr/bin:/bin")
    assert without.returncode == 0, without.stderr
    assert (
        linked.is_symlink()
        and linked.resolve() == Path(sys.executable).parent.joinpath("logomesh").resolve()
    )
    assert f"{home}/.local/bin is not on your PATH" in without.stdout
    assert "export PATH=" in without.stdout

    version = subprocess.run([str(linked), "--help"], capture_output=True, text=True)
    assert version.returncode == 0 and "LogoMesh" in version.stdout

    again = _make_link(home, f"{home}/.local/bin:/usr/bin:/bin")  # idempotent; on PATH now
    assert again.returncode == 0, again.stderr
    assert "not on your PATH" not in again.stdout and linked.is_symlink()
