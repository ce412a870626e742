"""Task pipelines (issue 12): the executor's cost per step, its parallelism, cancellation,
and the validation of a large file.

Every run is a real one: an engine on a migrated SQLite file in a private workspace, the
steps' commands registered in its registry (a no-op, a 100 ms sleep, a step that waits to be
cancelled), every step through ``Engine.execute`` with its audit record. The handlers note
``time.perf_counter()`` themselves, so a figure can subtract the steps' own time or measure
when a cancellation reached them. How a run is started is one function, :func:`start_run`.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import itertools
import math
import statistics
import time
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict

from benchmarks.table import Row
from benchmarks.timing import latency_rows
from benchmarks.workspace import Workspace, open_engine, private_workspace
from logomesh.commands.models import CommandContext, CommandOutput, CommandSpec
from logomesh.commands.registry import CommandRegistry
from logomesh.commands.values import Actor, RiskLevel, Source
from logomesh.engine import Engine
from logomesh.pipelines.events import PipelineRunStarted
from logomesh.pipelines.executor import RunOptions, RunResult, run_pipeline
from logomesh.pipelines.loader import load_bytes
from logomesh.pipelines.model import Pipeline
from logomesh.pipelines.states import RunState
from logomesh.pipelines.validation import validate

OVERHEAD_TARGET_MS = 1.0
SLEEP_S = 0.1
PARALLEL = 16
WAVE_SLACK = 1.10  # "within 10 % of 7 waves"
CANCEL_P95_TARGET_MS = 200.0
VALIDATE_P95_TARGET_MS = 200.0
HANG_S = 60.0

OVERHEAD_MEASURES = (
    "One run of N no-op steps in sequence (each `needs` the one before), in one event loop: "
    "wall seconds of `run_pipeline` (recorded in the run store) minus the sum of the "
    "handlers' own time (each notes "
    "perf_counter on entry and exit), over N. All-in per step: the executor (scheduling, "
    "`if:`, `with:` rendering, events) and the whole `Engine.execute` (validation, "
    "authorisation, timeout, audit record committed to SQLite before the step counts as done)."
)
GAP_MEASURES = (
    "Per step of the same runs: perf_counter from one no-op handler returning to the next "
    "one starting (the first step's `Engine.execute` finishing, its audit record committed, "
    "the executor concluding it and launching the next, whose `Engine.execute` begins)."
)
WAVES_MEASURES = (
    "Wall seconds of `run_pipeline` of 100 independent steps (`needs: []`), each a command "
    "whose handler awaits `asyncio.sleep(0.1)`, at max_parallel 16: ceil(100/16) = 7 waves "
    "of 100 ms at best; target within 10 % of that."
)
CANCEL_MEASURES = (
    "Per running step: perf_counter when its handler (awaiting a 60 s sleep) receives "
    "CancelledError minus perf_counter just before `task.cancel()` of the run's task; 32 "
    "independent steps at max_parallel 16, cancelled once all 16 running handlers started."
)
REQUEST_MEASURES = (
    "As above, but cancelled as `logomesh pipeline cancel RUN` does from another process: "
    "`RunStore.request_cancel` committed (from a thread, on the same database file), then "
    "the running process notices at its next poll (`pipelines.cancel_poll_s`) and cancels; "
    "per step, from just before the request to its handler's CancelledError."
)
CANCEL_DONE_MEASURES = (
    "Per run: perf_counter from `task.cancel()` of the run's task until that task is done "
    "(running steps cancelled and recorded, the waiting ones skipped, events published)."
)
VALIDATE_MEASURES = (
    "Seconds of `load_bytes` (YAML with positions) + `validate` (pydantic models, graph, "
    "cycles, references, known commands given) of a generated 1,000-step file: each step "
    "`needs` one or two earlier steps, `with:` templates read upstream steps' data and "
    "outcome and an input, and every other step has an `if:` condition; new step ids each "
    "time, so no template is parsed from a cache."
)


class _Args(BaseModel):
    model_config = ConfigDict(extra="allow")


@dataclass
class Probe:
    """What the benchmark commands' handlers note: (entry, exit) per call, cancellations."""

    calls: list[tuple[float, float]] = field(default_factory=list)
    cancelled_at: list[float] = field(default_factory=list)
    hanging: int = 0
    all_hanging: asyncio.Event | None = None
    hang_target: int = 0


def bench_registry(probe: Probe) -> CommandRegistry:
    """``bench.noop`` (returns at once), ``bench.sleep`` (100 ms), ``bench.hang`` (waits
    to be cancelled, noting when), each a real command of read risk."""

    async def noop(ctx: CommandContext, args: BaseModel) -> CommandOutput:
        entered = time.perf_counter()
        probe.calls.append((entered, time.perf_counter()))
        return CommandOutput(data={"n": 1})

    async def sleep(ctx: CommandContext, args: BaseModel) -> CommandOutput:
        await asyncio.sleep(SLEEP_S)
        return CommandOutput()

    async def hang(ctx: CommandContext, args: BaseModel) -> CommandOutput:
        probe.hanging += 1
        if probe.all_hanging is not None and probe.hanging == probe.hang_target:
            probe.all_hanging.set()
        try:
            await asyncio.sleep(HANG_S)
        except asyncio.CancelledError:
            probe.cancelled_at.append(time.perf_counter())
            raise
        return CommandOutput()

    registry = CommandRegistry()
    for name, handler in (("bench.noop", noop), ("bench.sleep", sleep), ("bench.hang", hang)):
        registry.register(
            CommandSpec(
                name, "benchmark", _Args, "bench.run", RiskLevel.READ, handler, timeout_s=HANG_S * 2
            )
        )
    return registry


def open_bench_engine(workspace: Workspace, probe: Probe) -> Engine:
    return open_engine(workspace, bench_registry(probe))


async def start_run(engine: Engine, pipeline: Pipeline, max_parallel: int) -> RunResult:
    """The one place a benchmark starts a run: as ``pipeline.NAME`` does, recorded in the
    engine's run store (its rows written in batches off the loop), polling for a cancel."""
    actor = Actor(Source.CLI, getpass.getuser())
    options = RunOptions(store=engine.pipeline_runs, max_parallel=max_parallel,
                         poll_s=engine.settings.pipelines.cancel_poll_s)  # fmt: skip
    return await run_pipeline(engine, pipeline, {}, actor, options)


def pipeline_of(engine: Engine, text: str) -> Pipeline:
    known = {spec.name for spec in engine.registry}
    return validate(load_bytes(text.encode(), file="bench.yaml"), known_commands=known)


def steps_text(name: str, count: int, uses: str, needs: str | None) -> str:
    """A pipeline of ``count`` steps of ``uses``; ``needs`` None: each after the previous."""
    lines = ["version: 1", f"name: {name}", "steps:"]
    for i in range(count):
        lines += [f"  - id: s{i}", f"    uses: {uses}"]
        if needs is not None:
            lines.append(f"    needs: {needs}")
    return "\n".join(lines) + "\n"


def run(quick: bool) -> list[Row]:
    steps, overhead_runs = (200, 1) if quick else (1_000, 3)
    wave_runs, cancel_runs, validations = (1, 2, 3) if quick else (3, 8, 15)
    probe = Probe()
    with private_workspace() as workspace:
        engine = open_bench_engine(workspace, probe)
        try:
            known = {spec.name for spec in engine.registry}
            rows = _overhead(engine, probe, steps, overhead_runs)
            rows += _waves(engine, wave_runs)
            rows += _cancellation(engine, probe, cancel_runs)
        finally:
            engine.close()
    return rows + _validation(known, validations)


def _overhead(engine: Engine, probe: Probe, steps: int, runs: int) -> list[Row]:
    pipeline = pipeline_of(engine, steps_text("sequence", steps, "bench.noop", None))
    warmup = pipeline_of(engine, steps_text("warmup", 50, "bench.noop", None))
    asyncio.run(start_run(engine, warmup, PARALLEL))
    overheads: list[float] = []
    gaps: list[float] = []
    for _ in range(runs):
        probe.calls.clear()
        started = time.perf_counter()
        result = asyncio.run(start_run(engine, pipeline, PARALLEL))
        wall = time.perf_counter() - started
        _succeeded(result, steps)
        calls = probe.calls
        own = sum(end - entered for entered, end in calls)
        overheads.append((wall - own) / steps)
        gaps += [nxt[0] - prev[1] for prev, nxt in itertools.pairwise(calls)]
    mean_ms = statistics.fmean(overheads) * 1000
    metric = f"pipeline engine overhead per step, {steps:,} no-op steps in sequence"
    mean = Row(
        f"{metric}, mean of {runs} run(s)",
        f"{mean_ms:.3f} ms",
        f"< {OVERHEAD_TARGET_MS:g} ms",
        mean_ms < OVERHEAD_TARGET_MS,
        measures=OVERHEAD_MEASURES,
    )
    per_step = latency_rows(
        f"{metric}: handler to next handler", gaps, measures=GAP_MEASURES, digits=3
    )
    return [mean, *per_step]


def _waves(engine: Engine, runs: int) -> list[Row]:
    count = 100
    pipeline = pipeline_of(engine, steps_text("waves", count, "bench.sleep", "[]"))
    walls: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        result = asyncio.run(start_run(engine, pipeline, PARALLEL))
        walls.append(time.perf_counter() - started)
        _succeeded(result, count)
    best = math.ceil(count / PARALLEL) * SLEEP_S
    target_ms = best * WAVE_SLACK * 1000
    metric = f"pipeline: {count} independent 100 ms steps at max_parallel {PARALLEL}"
    rows = []
    for label, value in (("median", statistics.median(walls)), ("worst", max(walls))):
        ms = value * 1000
        rows.append(
            Row(
                f"{metric}, {label} of {runs} run(s)",
                f"{ms:.0f} ms",
                f"< {target_ms:.0f} ms",
                ms < target_ms,
                measures=WAVES_MEASURES,
            )
        )
    return rows


def _cancellation(engine: Engine, probe: Probe, runs: int) -> list[Row]:
    pipeline = pipeline_of(engine, steps_text("cancel", 2 * PARALLEL, "bench.hang", "[]"))
    latencies: list[float] = []
    done: list[float] = []
    for _ in range(runs):
        reached, finished = asyncio.run(_cancel_once(engine, probe, pipeline))
        latencies += reached
        done.append(finished)
    metric = f"pipeline cancel -> each running step ({runs} runs x {PARALLEL} steps)"
    rows = latency_rows(
        metric, latencies, measures=CANCEL_MEASURES, digits=1, p95_target_ms=CANCEL_P95_TARGET_MS
    )
    worst = max(latencies) * 1000
    rows.append(Row(f"{metric}, max", f"{worst:.1f} ms", measures=CANCEL_MEASURES))
    requested: list[float] = []
    for _ in range(runs):
        reached, _finished = asyncio.run(_cancel_once(engine, probe, pipeline, by_request=True))
        requested += reached
    rows += latency_rows(
        f"pipeline cancel from another process -> each running step ({runs} runs)",
        requested,
        measures=REQUEST_MEASURES,
        digits=1,
        p95_target_ms=CANCEL_P95_TARGET_MS,
    )
    rows += latency_rows(
        f"pipeline cancel -> run task done ({runs} runs)",
        done,
        measures=CANCEL_DONE_MEASURES,
        digits=1,
    )
    return rows


async def _cancel_once(
    engine: Engine, probe: Probe, pipeline: Pipeline, by_request: bool = False
) -> tuple[list[float], float]:
    probe.hanging, probe.hang_target = 0, PARALLEL
    probe.cancelled_at.clear()
    probe.all_hanging = asyncio.Event()
    runs: list[str] = []
    unsubscribe = engine.events.subscribe(PipelineRunStarted, lambda e: runs.append(e.run_id))
    task = asyncio.ensure_future(start_run(engine, pipeline, PARALLEL))
    await asyncio.wait_for(probe.all_hanging.wait(), HANG_S / 2)
    await asyncio.sleep(0.05)  # let every step settle in its sleep
    if probe.hanging != PARALLEL:
        raise RuntimeError(f"{probe.hanging} steps running, not {PARALLEL}")
    unsubscribe()
    cancelled = time.perf_counter()
    if by_request:  # the run's row was written in the recorder's first batch, long ago
        await asyncio.to_thread(engine.pipeline_runs.request_cancel, runs[0])
    else:
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    finished = time.perf_counter() - cancelled
    if len(probe.cancelled_at) != PARALLEL:
        raise RuntimeError(f"{len(probe.cancelled_at)} of {PARALLEL} steps saw the cancel")
    return [at - cancelled for at in probe.cancelled_at], finished


def validation_text(count: int, prefix: str = "s") -> str:
    """A file of ``count`` steps as a user might write one: a graph, templates, conditions.

    Step ids start with ``prefix``, so each repetition's strings are new to the template
    cache (a file is validated once when a workspace loads: the figure is a cold one)."""
    lines = [
        "version: 1",
        "name: big",
        "inputs:",
        "  label: {type: string, default: x}",
        "steps:",
        f"  - id: {prefix}0",
        "    uses: bench.noop",
        "    with: {n: 0}",
    ]
    for i in range(1, count):
        before, half = f"{prefix}{i - 1}", f"{prefix}{i // 2}"
        lines += [
            f"  - id: {prefix}{i}",
            "    uses: bench.noop",
            f"    needs: [{before}]" if i < 2 else f"    needs: [{before}, {half}]",
            "    with:",
            f"      n: ${{{{ steps.{before}.data.n }}}}",
            f'      label: "${{{{ inputs.label }}}}-{i} after ${{{{ steps.{half}.outcome }}}}"',
        ]
        if i % 2:
            lines.append(f"    if: steps.{before}.outcome == 'ok' && inputs.label != ''")
    return "\n".join(lines) + "\n"


def _validation(known: set[str], repetitions: int) -> list[Row]:
    count = 1_000
    samples: list[float] = []
    size = 0
    for repetition in range(repetitions + 1):  # the first is a warmup (first use of each path)
        data = validation_text(count, prefix=f"r{repetition}s").encode()
        size = len(data)
        started = time.perf_counter()
        pipeline = validate(load_bytes(data, file="big.yaml"), known_commands=known)
        samples.append(time.perf_counter() - started)
        if len(pipeline.steps) != count:
            raise RuntimeError(f"validated {len(pipeline.steps)} steps, not {count}")
    metric = f"pipeline validation, {count:,}-step file ({size // 1024} KB, {repetitions} runs)"
    return latency_rows(
        metric,
        samples[1:],
        measures=VALIDATE_MEASURES,
        digits=1,
        p95_target_ms=VALIDATE_P95_TARGET_MS,
    )


def _succeeded(result: RunResult, steps: int) -> None:
    if result.state is not RunState.SUCCEEDED or len(result.steps) != steps:
        raise RuntimeError(f"the run ended {result.state} with {len(result.steps)} steps")
