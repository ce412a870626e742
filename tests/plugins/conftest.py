"""Plugin fixtures: write real plugins (manifest + script) into a test workspace.

Each test builds the plugins it needs as files, then an engine discovers them and runs them
as real subprocesses, exactly as in use.
"""

from __future__ import annotations

import getpass
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest, CommandResult
from logomesh.commands.values import Actor, Source
from logomesh.composition import build_engine
from logomesh.config import LoadedSettings
from logomesh.engine import Engine
from tests.cli.conftest import cli, cli_env  # noqa: F401  (the real console script, for plugins)

ME = Actor(Source.CLI, getpass.getuser())


def manifest_text(
    name: str,
    *,
    runtime: str = "python",
    entry: str = "main.py",
    commands: tuple[str, ...] = (),
    extra: str = "",
) -> str:
    blocks = [
        f'name = "{name}"\nversion = "0.1.0"\nruntime = "{runtime}"\nentry = "{entry}"\n',
        *(
            f'[[contributes.commands]]\nname = "{command}"\nsummary = "{command} for tests"\n'
            for command in commands
        ),
        extra,
    ]
    return "\n".join(blocks)


@pytest.fixture
def add_plugin(workspace: Path) -> Callable[..., Path]:
    """``add_plugin(name, script, commands=(...), extra=toml, runtime=..)`` -> its folder."""

    def _add(
        name: str,
        script: str,
        *,
        commands: tuple[str, ...] = (),
        extra: str = "",
        runtime: str = "python",
        entry: str = "main.py",
        manifest: str | None = None,
    ) -> Path:
        folder = workspace / "plugins" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / entry).write_text(textwrap.dedent(script), encoding="utf-8")
        text = manifest or manifest_text(
            name, runtime=runtime, entry=entry, commands=commands, extra=extra
        )
        (folder / "logomesh-plugin.toml").write_text(text, encoding="utf-8")
        return folder

    return _add


@pytest.fixture
def plugin_engine(load: Callable[..., LoadedSettings]) -> Iterator[Callable[..., Engine]]:
    """Engines over the test workspace (plugins are discovered when one is made)."""
    made: list[Engine] = []

    def _make(**plugins: Any) -> Engine:
        loaded = load({"plugins": {"entry_points": False, **plugins}})
        made.append(build_engine(loaded.settings, provenance=loaded.provenance))
        return made[-1]

    yield _make
    for engine in made:
        engine.close()


def run_command(engine: Engine, command: str, **arguments: Any) -> CommandResult:
    return run_sync(engine, CommandRequest(command, ME, arguments))


def wait_until(
    condition: Callable[[], bool], timeout_s: float = 10.0, poll_s: float = 0.02
) -> None:
    """Poll ``condition`` until it holds; fail the test if it does not within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll_s)
    raise AssertionError("condition not met in time")


def plugin_script(name: str, tools: str, *, head: str = "") -> str:
    """A plugin on the Python helper: ``head`` (imports, set-up), a ``Plugin`` called ``name``,
    then ``tools`` (its handlers; each part dedented) and ``plugin.run()``."""
    return (
        f"{textwrap.dedent(head).strip()}\n"
        "from logomesh_plugin import Plugin, ToolError\n"
        f'plugin = Plugin("{name}", version="1")\n'
        f"{textwrap.dedent(tools).strip()}\n"
        "plugin.run()\n"
    )


ECHO_PLUGIN = """
    from logomesh_plugin import Plugin, ToolError

    plugin = Plugin("echo", version="0.1.0")

    @plugin.tool("echo.say", schema={"type": "object", "properties": {
        "text": {"type": "string"}, "times": {"type": "integer"}}, "required": ["text"]})
    def say(args, ctx):
        return {"said": args["text"] * args.get("times", 1)}

    @plugin.tool("echo.fail")
    def fail(args, ctx):
        raise ToolError("it failed on purpose")

    plugin.run()
"""
