"""The warm process: the real console script handing commands to a real forked server.

One server serves the module (it takes about ten seconds to import everything and load the
embedding model); tests of its lifetime (idle exit, stale code, stop) start their own.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import site
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from logomesh.cli.warm import protocol
from tests.cli.conftest import LOGOMESH, Run

STARTUP_TIMEOUT_S = 180


def _console(args: list[str], env: dict[str, str], cwd: Path, stdin: str = "") -> Run:
    done = subprocess.run(
        [str(LOGOMESH), *args], cwd=cwd, env=env, input=stdin, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    return Run(done.returncode, done.stdout, done.stderr)


_made: list[Path] = []
# The compiled embedding model the servers preload, from the user's cache as a person's
# would be (it is keyed by the model's weights): a private HOME would trace it again, seconds
# per server.
MODEL_CACHE = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")


def _private_dir() -> Path:
    # Short, so the socket's path fits in sun_path wherever pytest keeps its temporary files.
    made = Path(tempfile.mkdtemp(prefix="lm-warm-", dir="/tmp"))
    _made.append(made)
    return made


@pytest.fixture(scope="module", autouse=True)
def _remove_private_dirs() -> Iterator[None]:
    yield
    for made in _made:
        shutil.rmtree(made, ignore_errors=True)


def _start(env: dict[str, str], cwd: Path) -> None:
    started = _console(["warm", "start", "--timeout", str(STARTUP_TIMEOUT_S)], env, cwd)
    assert started.code == 0, started.err


def _status(env: dict[str, str], cwd: Path) -> dict[str, object]:
    return json.loads(_console(["warm", "status", "--json"], env, cwd).out)  # type: ignore[no-any-return]


def _eventually(check: Callable[[], bool], timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


@pytest.fixture(scope="module")
def warm_dir() -> Iterator[Path]:
    directory = _private_dir()
    yield directory
    env = {**os.environ, "LOGOMESH_WARM": "1", "LOGOMESH_WARM_DIR": str(directory)}
    _console(["warm", "stop"], env, directory)


@pytest.fixture
def warm_env(cli_env: dict[str, str], warm_dir: Path, workspace: Path) -> dict[str, str]:
    # Set up as a person's is: the first command in a bare folder says it set one up.
    assert _console(["init"], cli_env, workspace).code == 0
    env = {**_on(cli_env), "LOGOMESH_WARM_DIR": str(warm_dir)}
    if not _status(env, workspace).get("running"):
        _start(env, workspace)
    return env


def _on(env: dict[str, str]) -> dict[str, str]:
    return {**env, "LOGOMESH_WARM": "1", "XDG_CACHE_HOME": MODEL_CACHE}


def _served(env: dict[str, str], cwd: Path) -> int:
    return int(_status(env, cwd)["served"])  # type: ignore[call-overload]


def test_a_warm_command_prints_what_a_cold_one_prints(
    warm_env: dict[str, str], cli_env: dict[str, str], workspace: Path
) -> None:
    before = _served(warm_env, workspace)
    warm = _console(["whoami", "--json"], warm_env, workspace)
    cold = _console(["whoami", "--json"], cli_env, workspace)
    assert warm.code == cold.code == 0, warm.err
    assert _served(warm_env, workspace) == before + 1
    strip = ("duration_ms", "correlation_id", "audit_id")
    assert _without(warm.json(), strip) == _without(cold.json(), strip)
    assert warm.err == cold.err


def test_exit_codes_and_errors_are_the_callers(
    warm_env: dict[str, str], cli_env: dict[str, str], workspace: Path
) -> None:
    warm = _console(["run", "no.such_command"], warm_env, workspace)
    cold = _console(["run", "no.such_command"], cli_env, workspace)
    assert warm.code == cold.code == 2
    assert warm.err == cold.err and "no.such_command" in warm.err
    usage = _console(["audit", "tail", "-n", "many"], warm_env, workspace)
    assert usage.code == 2 and "--limit" in usage.err


def test_the_callers_environment_directory_and_umask_apply(
    warm_env: dict[str, str], workspace: Path, tmp_path: Path
) -> None:
    env = {**warm_env, "LOGOMESH_NL__THRESHOLD": "0.61"}
    shown = _console(["config", "show", "--json"], env, workspace)
    assert shown.code == 0, shown.err
    assert "0.61" in shown.out and "LOGOMESH_NL__THRESHOLD" in shown.out
    target = tmp_path / "private-backup.db"
    done = subprocess.run(
        [str(LOGOMESH), "db", "backup", str(target)], cwd=workspace, env=warm_env,
        capture_output=True, text=True, timeout=120, preexec_fn=lambda: os.umask(0o077),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert target.stat().st_mode & 0o077 == 0


def test_stdin_is_the_callers(warm_env: dict[str, str], workspace: Path) -> None:
    empty = _console(["audit", "search", "   "], warm_env, workspace, stdin="ignored\n")
    assert empty.code == 2
    piped = _console(["run", "--args-json", "-", "whoami"], warm_env, workspace, stdin="{}")
    assert piped.code in (0, 2)  # whichever it is, it is the cold answer too


def test_ctrl_c_reaches_the_command_and_ends_it_as_it_would_here(
    warm_env: dict[str, str], cli_env: dict[str, str], workspace: Path
) -> None:
    _long_command(workspace, warm_env)
    codes = []
    for env in (warm_env, cli_env):
        process = subprocess.Popen(
            [str(LOGOMESH), "run", "wait.long", "--yes"], cwd=workspace, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert _eventually(lambda: _sleeping(workspace)), "the command never started"
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
        codes.append(process.returncode)
        assert _eventually(lambda: not _sleeping(workspace)), "its subprocess outlived it"
    assert codes[0] == codes[1] != 0


def test_a_caller_that_vanishes_takes_its_command_with_it(
    warm_env: dict[str, str], workspace: Path
) -> None:
    _long_command(workspace, warm_env)
    process = subprocess.Popen(
        [str(LOGOMESH), "run", "wait.long", "--yes"], cwd=workspace, env=warm_env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert _eventually(lambda: int(_status(warm_env, workspace)["commands_running"]) == 1)  # type: ignore[call-overload]
    process.kill()
    process.wait()
    assert _eventually(lambda: int(_status(warm_env, workspace)["commands_running"]) == 0)  # type: ignore[call-overload]


def test_off_means_every_command_runs_in_its_own_process(
    warm_env: dict[str, str], workspace: Path
) -> None:
    before = _served(warm_env, workspace)
    off = _console(["whoami"], {**warm_env, "LOGOMESH_WARM": "off"}, workspace)
    assert off.code == 0
    assert _served(warm_env, workspace) == before


def test_frames_that_are_not_requests_are_refused_and_it_keeps_serving(
    warm_env: dict[str, str], warm_dir: Path, workspace: Path
) -> None:
    found = protocol.endpoint(warm_env)
    assert found is not None
    for garbage in (struct.pack(">I", 1 << 30), struct.pack(">I", 5) + b"[1,2]", b"\x00"):
        with socket.socket(socket.AF_UNIX) as raw:
            raw.connect(str(found.socket))
            raw.sendall(garbage)
            raw.shutdown(socket.SHUT_WR)
            assert raw.recv(100) == b""  # hung up on, not served
    for request, reason in (
        ({"protocol": 99, "argv": [], "cwd": "/", "env": {}, "umask": 18}, "protocol"),
        ({"protocol": protocol.PROTOCOL, "argv": "whoami", "cwd": "/", "env": {}, "umask": 18},
         "argv"),
    ):  # fmt: skip
        with socket.socket(socket.AF_UNIX) as raw:
            raw.connect(str(found.socket))
            protocol.send(raw, request, fds=(0, 1, 2))
            reply, _ = protocol.receive(raw)
            assert reason in reply["refused"]
    with socket.socket(socket.AF_UNIX) as raw:  # a request without the caller's streams
        raw.connect(str(found.socket))
        protocol.send(raw, {"protocol": protocol.PROTOCOL, "argv": [], "cwd": "/", "env": {},
                            "umask": 18})  # fmt: skip
        assert "stdin" in protocol.receive(raw)[0]["refused"]
    assert _console(["whoami"], warm_env, workspace).code == 0


def test_a_directory_others_may_enter_is_never_used(
    cli_env: dict[str, str], workspace: Path
) -> None:
    shared = _private_dir()
    shared.chmod(0o755)
    env = {**_on(cli_env), "LOGOMESH_WARM_DIR": str(shared)}
    assert protocol.endpoint(env) is None
    refused = _console(["warm", "start"], env, workspace)
    assert refused.code == 1 and "private directory" in refused.err
    assert _console(["whoami"], env, workspace).code == 0  # and the command runs cold
    assert not list(shared.iterdir())


@pytest.mark.skipif(os.geteuid() != 0, reason="another user's connection needs root to fake")
def test_another_users_connection_is_closed_unserved(
    warm_env: dict[str, str], warm_dir: Path
) -> None:
    found = protocol.endpoint(warm_env)
    assert found is not None
    warm_dir.chmod(0o755)
    found.socket.chmod(0o666)
    try:
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the other user's side
            os.setgid(65534)
            os.setuid(65534)
            outcome = b"?"
            try:
                with socket.socket(socket.AF_UNIX) as raw:
                    raw.connect(str(found.socket))
                    protocol.send(raw, {"control": "status", "protocol": protocol.PROTOCOL})
                    outcome = b"served" if raw.recv(100) else b"closed"
            except OSError:
                outcome = b"closed"
            os.write(write, outcome)
            os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        assert os.read(read, 10) == b"closed"
    finally:
        warm_dir.chmod(0o700)
        found.socket.chmod(0o600)


def test_without_a_terminal_none_is_started(cli_env: dict[str, str], workspace: Path) -> None:
    directory = _private_dir()
    env = {**_on(cli_env), "LOGOMESH_WARM_DIR": str(directory)}
    assert _console(["whoami"], env, workspace).code == 0
    assert not list(directory.glob("*.sock"))


def test_it_leaves_when_idle_when_stopped_and_when_the_code_changes(
    cli_env: dict[str, str], workspace: Path
) -> None:
    directory = _private_dir()
    env = {**_on(cli_env), "LOGOMESH_WARM_DIR": str(directory)}
    _start({**env, "LOGOMESH_WARM_IDLE_S": "1"}, workspace)
    assert _eventually(lambda: not list(directory.glob("*.sock")), STARTUP_TIMEOUT_S)
    assert not _status(env, workspace)["running"]

    _start(env, workspace)
    pid = int(_status(env, workspace)["pid"])  # type: ignore[call-overload]
    stopped = _console(["warm", "stop"], env, workspace)
    assert stopped.code == 0 and str(pid) in stopped.out
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE

    _start(env, workspace)
    before = _status(env, workspace)
    now = time.time_ns()
    site_dir = site.getsitepackages()[0]
    os.utime(site_dir, ns=(now, now))  # what an install or upgrade does to it
    after = _console(["whoami", "--json"], env, workspace)
    assert after.code == 0 and after.json()["ok"]  # run here instead, all the same
    assert _eventually(lambda: not _status(env, workspace)["running"])
    assert before["running"]


def _long_command(workspace: Path, env: dict[str, str]) -> None:
    config = workspace / "logomesh.toml"
    text = config.read_text() if config.exists() else ""
    if "wait.long" not in text:
        config.write_text(
            text + '\n[[devshell.commands]]\nname = "wait.long"\nsummary = "Wait"\n'
            'argv = ["sleep", "37.25"]\nrisk = "read"\ntimeout_s = 120\n'
        )
    assert _console(["trust"], env, workspace).code == 0


def _sleeping(workspace: Path) -> bool:
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if cmdline[-1:] == ["37.25"] and Path(cmdline[0]).name == "sleep":
            return True
    return False


def _without(value: object, keys: tuple[str, ...]) -> object:
    if isinstance(value, dict):
        return {k: _without(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [_without(v, keys) for v in value]
    return value
