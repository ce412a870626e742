"""The pipeline benchmarks (issue 12) measure what their rows say: real runs through the
door, one step after another where the figure says so, a file that exercises every check.

Small counts: these check how the figures are taken, not how fast anything is.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest

from benchmarks import pipelines
from benchmarks.workspace import private_workspace
from logomesh.audit.query import AuditFilter
from logomesh.errors import PipelineValidationError
from logomesh.pipelines.loader import load_bytes
from logomesh.pipelines.store import RunState
from logomesh.pipelines.validation import validate

KNOWN = {"bench.noop", "bench.sleep", "bench.hang"}


@pytest.mark.timeout(120)
def test_quick_run_reports_the_four_targets_of_the_issue_with_a_note_each() -> None:
    rows = pipelines.run(quick=True)
    targets = {row.metric.split(" [")[0]: row.target for row in rows if row.target != "-"}
    assert list(targets.values()) == [
        "< 1 ms", "< 770 ms", "< 770 ms", "< 200 ms", "< 200 ms", "< 200 ms"
    ]  # fmt: skip
    assert all(row.measures and not row.error for row in rows)
    by_note = {row.measures for row in rows}
    assert {
        pipelines.OVERHEAD_MEASURES,
        pipelines.WAVES_MEASURES,
        pipelines.CANCEL_MEASURES,
        pipelines.REQUEST_MEASURES,
        pipelines.VALIDATE_MEASURES,
    } <= by_note
    waves = [row for row in rows if row.measures == pipelines.WAVES_MEASURES]
    # Seven waves of real 100 ms sleeps cannot take less than 700 ms: the steps did run.
    assert all(float(row.measured.removesuffix(" ms")) >= 700 for row in waves)
    overhead = float(rows[0].measured.removesuffix(" ms"))
    assert 0 < overhead < 50


def test_the_sequence_runs_each_step_after_the_last_through_execute() -> None:
    probe = pipelines.Probe()
    with private_workspace() as workspace:
        engine = pipelines.open_bench_engine(workspace, probe)
        try:
            text = pipelines.steps_text("seq", 20, "bench.noop", None)
            result = asyncio.run(
                pipelines.start_run(engine, pipelines.pipeline_of(engine, text), 16)
            )
            records = engine.audit.store.query(AuditFilter(action="bench.noop", limit=100))
        finally:
            engine.close()
    assert result.state is RunState.SUCCEEDED
    assert len(probe.calls) == 20
    # Never two at once: what separates one handler from the next is the per-step overhead.
    assert all(nxt[0] >= prev[1] for prev, nxt in itertools.pairwise(probe.calls))
    assert len(records) == 20 and {r.parent_id for r in records} == {result.correlation_id}


def test_the_validated_file_has_the_graph_templates_and_conditions_it_claims() -> None:
    text = pipelines.validation_text(1_000)
    pipeline = validate(load_bytes(text.encode(), file="big.yaml"), known_commands=KNOWN)
    assert len(pipeline.steps) == 1_000
    assert sum(step.if_ is not None for step in pipeline.steps) == 500
    assert all(len(step.needs or ()) >= 1 for step in pipeline.steps[1:])
    assert all("${{ steps." in str(step.with_) for step in pipeline.steps[1:])
    # The references are checked in this file: one to a later step is refused.
    broken = text.replace("steps.s499.data.n", "steps.s700.data.n")
    with pytest.raises(PipelineValidationError, match="not upstream"):
        validate(load_bytes(broken.encode(), file="big.yaml"), known_commands=KNOWN)
    # And so are the commands.
    with pytest.raises(PipelineValidationError):
        validate(load_bytes(text.encode(), file="big.yaml"), known_commands={"bench.sleep"})
