"""Commands declared in logomesh.toml: built, validated, run, stopped and refused like
built-ins, through the same door."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from logomesh.audit.query import AuditFilter
from logomesh.commands.models import CommandRequest, CommandResult
from logomesh.commands.values import Actor, Outcome
from logomesh.engine import Engine
from logomesh.errors import ConfigError
from logomesh.events import CommandProgress
from tests.devshell.conftest import SPAWNS_GRANDCHILD, wait_for_pid_file, wait_until_gone

PY = sys.executable
ECHO_ARGS = "import sys; print(sys.argv[1:])"
ECHO = [PY, "-c", ECHO_ARGS]


def engine_with(make_engine: Callable[..., Engine], *commands: dict[str, Any]) -> Engine:
    return make_engine({"devshell": {"commands": list(commands)}})


def test_a_declared_command_runs_with_validated_arguments(
    workspace: Path, make_engine: Callable[..., Engine], run_with: Callable[..., CommandResult]
) -> None:
    (workspace / "logomesh.toml").write_text(
        f"""
[[devshell.commands]]
name = "greet.person"
summary = "Greet someone by name"
argv = ["{PY}", "-c", "{ECHO_ARGS}", "hello", "{{who}}"]
args = {{ who = "[A-Za-z]+" }}
examples = ["say hello to Ada"]
risk = "read"
"""
    )
    engine = make_engine()
    spec = engine.registry.get("greet.person")
    assert spec.permission == "devshell.run.greet.person" and spec.examples == ("say hello to Ada",)
    result = run_with(engine, "greet.person", who="Ada")
    assert result.ok, result.message
    assert result.data["stdout"].strip() == "['hello', 'Ada']"
    assert result.data["exit_code"] == 0


@pytest.mark.usefixtures("no_pwned")
@pytest.mark.parametrize(
    "value",
    ["; touch pwned", "$(touch pwned)", "`touch pwned`", "Ada|touch", "--upload-pack=x", "-x"],
)
def test_values_must_fully_match_and_never_look_like_options(
    make_engine: Callable[..., Engine], run_with: Callable[..., CommandResult], value: str
) -> None:
    engine = engine_with(
        make_engine,
        {"name": "echo.any", "argv": [*ECHO, "{text}"], "args": {"text": ".*"}},
        {"name": "echo.word", "argv": [*ECHO, "{text}"], "args": {"text": "[A-Za-z]+"}},
    )
    for command in ("echo.any", "echo.word"):
        result = run_with(engine, command, text=value)
        if command == "echo.any" and not value.startswith("-"):
            # A permissive pattern makes the value plain data: one argv element, never run.
            assert result.ok and result.data["stdout"].strip() == repr([value])
        else:
            assert result.error is not None and result.error.code == "command.invalid_arguments"
            assert "`text`" in result.error.message


@pytest.mark.parametrize(
    ("declaration", "field"),
    [
        ({"argv": []}, "argv"),
        ({"argv": ["tool", "{target}"]}, "args"),
        ({"argv": ["tool", "--target={target}"], "args": {"target": "x"}}, "argv"),
        ({"argv": ["{prog}"], "args": {"prog": "x"}}, "argv"),
        ({"argv": ["tool", "{target}"], "args": {"target": "(unclosed"}}, "args.target"),
        ({"argv": ["tool"], "args": {"unused": "x"}}, "args.unused"),
        ({"name": "Bad Name", "argv": ["tool"]}, "name"),
    ],
)
def test_malformed_declarations_are_config_errors_naming_command_and_field(
    make_engine: Callable[..., Engine], declaration: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        engine_with(make_engine, {"name": "my.tool", **declaration})
    message = caught.value.user_message
    assert f"field `{field}`" in message
    assert repr(declaration.get("name", "my.tool")) in message


def test_a_name_taken_by_a_builtin_is_a_config_error(make_engine: Callable[..., Engine]) -> None:
    with pytest.raises(ConfigError, match=r"'git\.status'.*already exists"):
        engine_with(make_engine, {"name": "git.status", "argv": ["git", "status"]})


def test_a_hanging_command_is_stopped_with_its_whole_group(
    tmp_path: Path, make_engine: Callable[..., Engine], run_with: Callable[..., CommandResult]
) -> None:
    pid_file = tmp_path / "grandchild.pid"
    engine = engine_with(
        make_engine,
        {"name": "hang.sleep", "argv": ["sleep", "60"], "timeout_s": 1},
        {"name": "hang.tree", "argv": [PY, "-c", SPAWNS_GRANDCHILD, str(pid_file)], "timeout_s": 1},
    )
    slept = run_with(engine, "hang.sleep")
    assert slept.error is not None and slept.error.code == "command.timeout"
    assert "within 1 s" in slept.error.message
    tree = run_with(engine, "hang.tree")
    assert tree.error is not None and tree.error.code == "command.timeout"
    assert wait_until_gone(wait_for_pid_file(pid_file)), "the grandchild outlived the timeout"


def test_cancelling_through_the_engine_kills_the_group_and_is_audited(
    tmp_path: Path, make_engine: Callable[..., Engine], owner: Actor
) -> None:
    pid_file = tmp_path / "grandchild.pid"
    engine = engine_with(
        make_engine, {"name": "tree.wait", "argv": [PY, "-c", SPAWNS_GRANDCHILD, str(pid_file)]}
    )
    request = CommandRequest("tree.wait", owner)

    async def start_then_cancel() -> None:
        task = asyncio.create_task(engine.execute(request))
        await asyncio.to_thread(wait_for_pid_file, pid_file)  # the whole tree is running
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(start_then_cancel(), 30))
    assert wait_until_gone(wait_for_pid_file(pid_file))
    records = engine.audit.store.query(AuditFilter(correlation_id=request.correlation_id))
    assert [r.outcome for r in records] == [Outcome.CANCELLED]


def test_huge_output_is_capped_and_progress_is_batched(
    make_engine: Callable[..., Engine], run_with: Callable[..., CommandResult]
) -> None:
    code = (
        "import sys\nw = sys.stdout.buffer.write\nw(b'START\\n')\n"
        "block = (b'y' * 199 + b'\\n') * 5000\nfor _ in range(300): w(block)\nw(b'END\\n')\n"
    )
    engine = make_engine(
        {
            "devshell": {
                "output_head_bytes": 4096,
                "output_tail_bytes": 4096,
                "commands": [{"name": "spew", "argv": [PY, "-c", code]}],
            }
        }
    )
    progress: list[CommandProgress] = []
    engine.events.subscribe(CommandProgress, progress.append)
    result = run_with(engine, "spew")
    assert result.ok, result.message
    stdout = result.data["stdout"]
    assert stdout.startswith("START\n") and stdout.endswith("\nEND\n")
    assert len(stdout) <= 8192 + 100
    assert result.data["truncated_bytes"] == 6 + 300_000_000 + 4 - 8192
    assert "[... 299,991,818 bytes cut ...]" in stdout
    assert 1 <= len(progress) < 500


def test_non_utf8_output_and_a_missing_program(
    make_engine: Callable[..., Engine], run_with: Callable[..., CommandResult]
) -> None:
    engine = engine_with(
        make_engine,
        {"name": "latin", "argv": [PY, "-c", "import sys; sys.stdout.buffer.write(b'na\\xefve')"]},
        {"name": "ghost", "argv": ["logomesh-ghost-tool", "--run"]},
    )
    assert run_with(engine, "latin").data["stdout"] == "na\ufffdve"
    ghost = run_with(engine, "ghost")
    assert ghost.error is not None and ghost.error.code == "devshell.tool_missing"
    assert "`logomesh-ghost-tool` is not installed" in ghost.error.message
    assert "Traceback" not in ghost.error.message


def test_a_failing_command_is_an_error_with_its_last_output(
    make_engine: Callable[..., Engine], run_with: Callable[..., CommandResult]
) -> None:
    code = "import sys; print('deploy: no credentials', file=sys.stderr); sys.exit(2)"
    engine = engine_with(make_engine, {"name": "deploy", "argv": [PY, "-c", code]})
    result = run_with(engine, "deploy")
    assert result.error is not None and "exit status 2" in result.error.message
    assert "deploy: no credentials" in result.error.message


def test_secrets_in_the_environment_do_not_reach_user_commands(
    make_engine: Callable[..., Engine],
    run_with: Callable[..., CommandResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOGOMESH_TEST_SECRET_TOKEN", "tok-123456")
    code = "import os; print(sorted(os.environ))"
    engine = make_engine(
        {
            "devshell": {
                "allow_env": ["LOGOMESH_TEST_SECRET_TOKEN"],
                "commands": [{"name": "env.show", "argv": [PY, "-c", code]}],
            }
        }
    )
    shown = run_with(engine, "env.show").data["stdout"]
    assert "LOGOMESH_TEST_SECRET_TOKEN" not in shown and "PATH" in shown
