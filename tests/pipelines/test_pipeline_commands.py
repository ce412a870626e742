"""Pipelines as commands: a workspace's files become ``pipeline.NAME`` in a real engine
(``build_engine`` with every feature, a real SQLite file), run through ``Engine.execute``
with their runs recorded; broken files are reported, not fatal; the management commands
list, validate, show, cancel and rerun. The steps' commands are registered by the test in
the registry the engine is built with."""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from logomesh.audit.query import AuditFilter
from logomesh.commands.models import CommandContext, CommandOutput, CommandRequest, CommandSpec
from logomesh.commands.registry import CommandRegistry
from logomesh.commands.values import Actor, RiskLevel, Source
from logomesh.composition import build_engine
from logomesh.config import LoadedSettings
from logomesh.engine import Engine
from logomesh.pipelines.events import StepStarted
from logomesh.pipelines.store import RunState, StepState

ME = Actor(Source.CLI, getpass.getuser())


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class Calls:
    def __init__(self) -> None:
        self.log: list[tuple[str, dict[str, Any]]] = []
        self.fail_left: dict[str, int] = {}


def step_registry(calls: Calls) -> CommandRegistry:
    """t.echo returns its arguments; t.fail fails while its key has failures left; t.wait
    sleeps; t.deploy is danger; all real commands through the one door."""

    async def echo(ctx: CommandContext, args: BaseModel) -> CommandOutput:
        arguments = args.model_dump()
        calls.log.append(("echo", arguments))
        await asyncio.sleep(float(arguments.get("wait", 0)))
        return CommandOutput(data=arguments, message=f"echo {arguments.get('say', '')}")

    async def fail(ctx: CommandContext, args: BaseModel) -> CommandOutput:
        key = str(args.model_dump().get("key", ""))
        calls.log.append(("fail", {"key": key}))
        left = calls.fail_left.get(key, 0)
        if left > 0:
            calls.fail_left[key] = left - 1
            raise ValueError(f"failing on purpose ({left} left)")
        return CommandOutput(data={"recovered": True})

    registry = CommandRegistry()
    for name, handler, risk in (
        ("t.echo", echo, RiskLevel.READ),
        ("t.fail", fail, RiskLevel.WRITE),
        ("t.deploy", echo, RiskLevel.DANGER),
    ):
        registry.register(CommandSpec(name, "test", Loose, "t.run", risk, handler))
    return registry


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def files(workspace: Path) -> Callable[[str, str], Path]:
    def write(name: str, text: str) -> Path:
        folder = workspace / "pipelines"
        folder.mkdir(exist_ok=True)
        path = folder / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def make(load: Callable[..., LoadedSettings], calls: Calls) -> Iterator[Callable[[], Engine]]:
    made: list[Engine] = []

    def _make() -> Engine:
        made.append(build_engine(load().settings, registry=step_registry(calls)))
        return made[-1]

    yield _make
    for engine in made:
        engine.close()


def execute(engine: Engine, command: str, arguments: dict[str, Any] | None = None) -> Any:
    return asyncio.run(engine.execute(CommandRequest(command, ME, arguments or {})))


BUILD = """\
version: 1
name: build
description: Build it, then say so.
inputs:
  target: {type: string, required: true}
  times: {type: integer, default: 1}
steps:
  - {id: compile, uses: t.echo, with: {say: "${{ inputs.target }}", n: "${{ inputs.times }}"}}
  - {id: report, uses: t.echo, with: {say: "${{ steps.compile.data.say }} built"}}
outputs:
  said: "${{ steps.report.data.say }}"
"""

SHIP = """\
version: 1
name: ship
steps:
  - {id: build, uses: {pipeline: build}, with: {target: app}}
  - {id: deploy, uses: t.deploy}
"""


def test_each_valid_file_is_a_command_with_its_inputs_and_its_steps_highest_risk(
    files: Callable[[str, str], Path], make: Callable[[], Engine]
) -> None:
    files("build.yaml", BUILD)
    files("ship.yaml", SHIP)
    engine = make()
    build, ship = engine.registry.get("pipeline.build"), engine.registry.get("pipeline.ship")
    assert build.risk is RiskLevel.READ and ship.risk is RiskLevel.DANGER  # through its steps
    assert build.summary == "Build it, then say so."
    assert "run the build pipeline" in build.examples
    assert set(build.args_model.model_fields) == {"target", "times"}

    missing = execute(engine, "pipeline.build")
    assert missing.error.code == "command.invalid_arguments" and "target" in missing.message
    result = execute(engine, "pipeline.build", {"target": "lib", "times": "3"})
    assert result.ok, result.message
    assert result.data["outputs"] == {"said": "lib built"}
    assert result.data["steps"]["compile"]["data"] == {"say": "lib", "n": 3}  # typed


def test_a_run_and_its_steps_are_one_audit_tree_and_a_nested_pipeline_nests(
    files: Callable[[str, str], Path], make: Callable[[], Engine]
) -> None:
    files("build.yaml", BUILD)
    files("ship.yaml", SHIP.replace("t.deploy", "t.echo"))
    engine = make()
    result = execute(engine, "pipeline.ship")
    assert result.ok, result.message
    records = engine.audit.store.query(AuditFilter(limit=None, oldest_first=True))
    [root] = [r for r in records if r.action == "pipeline.ship"]
    children = [r for r in records if r.parent_id == root.correlation_id]
    assert sorted(r.action for r in children) == ["pipeline.build", "t.echo"]
    assert all(r.source == "pipeline" and r.actor == root.actor for r in children)
    [inner] = [r for r in children if r.action == "pipeline.build"]
    grandchildren = [r for r in records if r.parent_id == inner.correlation_id]
    assert [r.action for r in grandchildren] == ["t.echo", "t.echo"]
    assert root.details["run_id"] == result.data["run_id"]


def test_a_broken_file_is_reported_and_the_others_still_load(
    files: Callable[[str, str], Path], make: Callable[[], Engine]
) -> None:
    files("build.yaml", BUILD)
    files("twin-a.yaml", "version: 1\nname: twin\nsteps:\n  - {id: a, uses: t.echo}\n")
    files("twin-b.yaml", "version: 1\nname: twin\nsteps:\n  - {id: a, uses: t.echo}\n")
    files("typo.yaml", "version: 1\nname: typo\nsteps:\n  - {id: a, uses: t.echo, nedds: []}\n")
    files("list.json", '{"version": 1, "name": "list", "steps": [{"id": "a", "uses": "t.echo"}]}')
    files(
        "uses-typo.yaml",
        "version: 1\nname: uses-typo\nsteps:\n  - {id: a, uses: {pipeline: typo}}\n",
    )
    files("bomb.yaml", "a: &a [1]\nb: *a\n")
    files("loop.yaml", "version: 1\nname: loop\nsteps:\n  - {id: again, uses: pipeline.loop}\n")
    files(
        "args.yaml",
        "version: 1\nname: args\nsteps:\n  - {id: a, uses: pipeline.build, with: {targt: x}}\n",
    )
    engine = make()
    assert "pipeline.build" in engine.registry
    for name in ("typo", "twin", "uses-typo", "args", "loop"):
        assert f"pipeline.{name}" not in engine.registry
    assert engine.registry.get("pipeline.list").summary.startswith("List")  # still the verb
    rows = {Path(row["file"]).name: row for row in execute(engine, "pipeline.list").data}
    assert rows["build.yaml"]["valid"] and not rows["typo.yaml"]["valid"]
    problems = {name: " ".join(row["problems"]) for name, row in rows.items()}
    assert (
        "typo.yaml:4:27: steps[0].nedds: unknown key 'nedds'; did you mean 'needs'?"
        in (problems["typo.yaml"])
    )
    assert "twin-b.yaml, has a pipeline named 'twin'" in problems["twin-a.yaml"]
    assert "twin-a.yaml, has a pipeline named 'twin'" in problems["twin-b.yaml"]
    assert "taken by the command pipeline.list" in problems["list.json"]
    assert "'typo' is not valid" in problems["uses-typo.yaml"]
    assert "anchor" in problems["bomb.yaml"]
    assert "the pipeline uses itself (loop -> loop)" in problems["loop.yaml"]
    assert "takes no argument 'targt'; did you mean 'target'?" in problems["args.yaml"]

    everything = execute(engine, "pipeline.validate")
    assert everything.error.code == "pipeline.invalid"
    one = execute(engine, "pipeline.validate", {"file": "pipelines/build.yaml"})
    assert one.ok, one.message


def test_runs_are_recorded_and_rerun_failed_runs_only_what_did_not_succeed(
    files: Callable[[str, str], Path], make: Callable[[], Engine], calls: Calls
) -> None:
    files("flaky.yaml", """\
version: 1
name: flaky
inputs:
  key: {type: string, default: k}
steps:
  - {id: first, uses: t.echo, with: {say: one}}
  - {id: shaky, uses: t.fail, with: {key: "${{ inputs.key }}"}}
  - {id: last, uses: t.echo, with: {say: "${{ steps.first.data.say }}"}}
""")  # fmt: skip
    engine = make()
    calls.fail_left["k"] = 1
    failed = execute(engine, "pipeline.flaky")
    assert failed.error.code == "pipeline.run_failed" and "shaky (failed)" in failed.message
    [run] = execute(engine, "pipeline.runs").data
    shown = execute(engine, "pipeline.show", {"run": run["id"]}).data
    states = {step["step_id"]: step["state"] for step in shown["steps"]}
    assert states == {"first": "succeeded", "shaky": "failed", "last": "skipped"}
    assert shown["state"] == "failed" and shown["inputs"] == {"key": "k"}

    calls.log.clear()
    rerun = execute(engine, "pipeline.rerun", {"run": run["id"], "failed": True})
    assert rerun.ok, rerun.message
    assert [name for name, _ in calls.log] == ["fail", "echo"]  # first was kept
    assert rerun.data["steps"]["last"]["data"] == {"say": "one"}  # from the kept step's data
    newest = execute(engine, "pipeline.runs").data[0]
    assert newest["state"] == "succeeded" and newest["id"] != run["id"]


def test_a_run_cancelled_from_another_engine_stops_its_steps_and_skips_the_rest(
    files: Callable[[str, str], Path], make: Callable[[], Engine]
) -> None:
    """Another engine on the same database stands for another process (the CLI test
    covers real processes): the request is a row the running engine polls."""
    files("slow.yaml", """\
version: 1
name: slow
steps:
  - {id: wait, uses: t.echo, with: {wait: 60}}
  - {id: after, uses: t.echo}
""")  # fmt: skip
    engine, other = make(), make()

    async def go() -> Any:
        started = asyncio.Event()
        engine.events.subscribe(StepStarted, lambda _: started.set())
        task = asyncio.ensure_future(engine.execute(CommandRequest("pipeline.slow", ME)))
        await started.wait()
        await asyncio.sleep(0.3)  # the run's row is written in the recorder's next batch
        [run] = await asyncio.to_thread(other.pipeline_runs.runs)
        await other.execute(CommandRequest("pipeline.cancel", ME, {"run": run.id}))
        return await task

    result = asyncio.run(asyncio.wait_for(go(), 30))
    assert result.error.code == "pipeline.cancelled"
    [run] = engine.pipeline_runs.runs()
    record = engine.pipeline_runs.get(run.id)
    assert record.state is RunState.CANCELLED
    assert {s.step_id: s.state for s in record.steps} == {
        "wait": StepState.CANCELLED,
        "after": StepState.SKIPPED,
    }
    [step] = engine.audit.store.query(AuditFilter(action="t.echo"))
    assert step.outcome == "cancelled"


def test_an_engine_without_pipeline_files_loads_none_of_their_machinery(
    workspace: Path, test_env: dict[str, str]
) -> None:
    """Building an engine stays cheap: with no pipeline files, neither YAML, nor the file
    format's models, nor the executor is imported (a fresh process, to see its modules)."""
    code = (
        "import sys\nfrom pathlib import Path\n"
        "from logomesh.composition import build_engine\nfrom logomesh.config import load_settings\n"
        f"settings = load_settings(Path({str(workspace)!r}), environ={test_env!r}).settings\n"
        "engine = build_engine(settings)\n"
        "assert 'pipeline.list' in engine.registry\n"
        "heavy = ('yaml', 'logomesh.pipelines.model', 'logomesh.pipelines.executor',"
        " 'logomesh.pipelines.store')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
        "engine.close()\n"
    )
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)  # fmt: skip
    assert done.stdout.strip() == ""
