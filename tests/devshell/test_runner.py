"""The runner on real processes: no shell, capped output, deadlines and cancellation that
take the whole process group down, a closed stdin, a scrubbed environment."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from logomesh.devshell.capture import OutputLimits
from logomesh.devshell.environment import child_environment
from logomesh.devshell.runner import RunResult, run
from logomesh.errors import ToolMissingError
from tests.devshell.conftest import SPAWNS_GRANDCHILD, wait_for_pid_file, wait_until_gone


def _run(argv: list[str], cwd: Path, **options: object) -> RunResult:
    options.setdefault("timeout_s", 30.0)
    return asyncio.run(
        run(argv, cwd=cwd, env=child_environment(os.environ), **options)  # type: ignore[arg-type]
    )


def _python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def test_exit_code_and_both_streams_are_reported(tmp_path: Path) -> None:
    result = _run(
        _python("import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"), tmp_path
    )
    assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert not result.succeeded and not result.timed_out and result.truncated_bytes == 0
    assert result.argv[1:] == ("-c", result.argv[2])


def test_shell_metacharacters_are_plain_argument_bytes(tmp_path: Path) -> None:
    """Without a shell, `; rm -rf /`, `$(...)`, backticks and pipes are only text."""
    hostile = [
        "; touch pwned",
        "$(touch pwned)",
        "`touch pwned`",
        "| touch pwned",
        "&& touch pwned",
    ]
    result = _run(_python("import sys; print(sys.argv[1:])", *hostile), tmp_path)
    assert result.stdout.strip() == repr(hostile)
    assert not (tmp_path / "pwned").exists()


def test_hundreds_of_megabytes_keep_head_and_tail_and_count_the_cut(tmp_path: Path) -> None:
    """300 MB through the pipe: the child never blocks, memory stays at the caps, and the
    text says how much was cut."""
    code = (
        "import sys\nw = sys.stdout.buffer.write\nw(b'FIRST LINE\\n')\n"
        "block = (b'x' * 99 + b'\\n') * 10000\nfor _ in range(300): w(block)\nw(b'LAST LINE\\n')\n"
    )
    events: list[str] = []

    async def collect(text: str) -> None:
        events.append(text)

    limits = OutputLimits(head_bytes=64 * 1024, tail_bytes=64 * 1024)
    result = _run(_python(code), tmp_path, limits=limits, on_output=collect, timeout_s=120.0)
    total = len(b"FIRST LINE\n") + 300 * 1_000_000 + len(b"LAST LINE\n")
    assert result.exit_code == 0
    assert result.stdout.startswith("FIRST LINE\nxxx")
    assert result.stdout.endswith("xxx\nLAST LINE\n")
    assert result.truncated_bytes == total - 128 * 1024
    assert f"[... {result.truncated_bytes:,} bytes cut ...]" in result.stdout
    assert len(result.stdout) <= 128 * 1024 + 100
    # Progress is batched: a handful of messages, not three million.
    assert 1 <= len(events) < 500
    assert events[-1].endswith("LAST LINE")


def test_output_that_is_not_utf8_is_decoded_with_replacement(tmp_path: Path) -> None:
    result = _run(
        _python("import sys; sys.stdout.buffer.write(b'caf\\xe9 \\xff\\xfe ok\\n')"), tmp_path
    )
    assert result.stdout == "caf\ufffd \ufffd\ufffd ok\n"


def test_stdin_is_closed(tmp_path: Path) -> None:
    """A child that reads stdin gets end-of-file at once instead of waiting forever."""
    result = _run(_python("import sys; print(repr(sys.stdin.read()))"), tmp_path, timeout_s=10.0)
    assert result.stdout.strip() == "''"


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    result = _run(_python(SPAWNS_GRANDCHILD, str(pid_file)), tmp_path, timeout_s=1.0)
    assert result.timed_out and not result.succeeded
    assert result.exit_code < 0  # ended by a signal
    grandchild = wait_for_pid_file(pid_file)
    assert wait_until_gone(grandchild), "the grandchild outlived the timeout"


def test_cancellation_kills_the_whole_process_group(tmp_path: Path) -> None:
    """The person pressed stop: the task is cancelled, and nothing it started survives."""
    pid_file = tmp_path / "grandchild.pid"

    async def start_then_cancel() -> None:
        task = asyncio.create_task(
            run(
                _python(SPAWNS_GRANDCHILD, str(pid_file)),
                cwd=tmp_path,
                env=child_environment(os.environ),
                timeout_s=60.0,
            )
        )
        await asyncio.to_thread(wait_for_pid_file, pid_file)  # the whole tree is running
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(start_then_cancel(), 30))
    assert wait_until_gone(wait_for_pid_file(pid_file)), "the grandchild outlived cancellation"


def test_a_missing_program_is_a_tool_missing_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ToolMissingError) as caught:
        _run(["logomesh-no-such-tool", "--version"], tmp_path)
    assert caught.value.code == "devshell.tool_missing"
    assert "logomesh-no-such-tool" in caught.value.user_message
    assert "PATH" in caught.value.user_message


def test_secrets_never_reach_the_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only allowlisted variables pass, and a secret-looking name is dropped even when the
    workspace asks for it by name."""
    monkeypatch.setenv("LOGOMESH_TEST_SECRET_TOKEN", "s3cr3t")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "also-secret")
    monkeypatch.setenv("PROJECT_COLOUR", "blue")
    env = child_environment(os.environ, extra_names=["LOGOMESH_TEST_SECRET_TOKEN", "PROJECT_*"])
    code = "import json, os; print(json.dumps(dict(os.environ)))"
    result = asyncio.run(run(_python(code), cwd=tmp_path, env=env, timeout_s=30.0))
    seen = result.stdout
    assert "s3cr3t" not in seen and "also-secret" not in seen
    assert '"PROJECT_COLOUR": "blue"' in seen
    assert '"PATH"' in seen and '"NO_COLOR": "1"' in seen
