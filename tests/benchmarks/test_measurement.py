"""The benchmarks measure what their rows say: paired overheads, process memory, the plugin
round trip raw and through the door, and a note per row (issue 10, item 13).

Small counts: these check how figures are taken, not how fast anything is.
"""

from __future__ import annotations

import subprocess
import sys
import time

from benchmarks import execute_overhead, plugins
from benchmarks.memory import MB, process_memory
from benchmarks.table import Row, describe, render
from benchmarks.timing import Paired, overhead_rows, paired, percentile
from benchmarks.workspace import open_engine, private_workspace
from logomesh.audit.query import AuditFilter


def test_pairs_alternate_which_call_goes_first_and_drop_the_warmup() -> None:
    calls: list[str] = []
    durations = iter(range(1, 100))

    def call(name: str) -> float:
        calls.append(name)
        return float(next(durations))

    pairs = paired(lambda: call("base"), lambda: call("measured"), count=3, warmup=1)
    assert calls == ["base", "measured", "measured", "base"] * 2
    # Pair 0 (the warmup, 1 and 2) is dropped; pair 1 ran measured (3) then base (4).
    assert pairs.baseline == [4.0, 5.0, 8.0]
    assert pairs.measured == [3.0, 6.0, 7.0]
    assert pairs.differences == [-1.0, 1.0, -1.0]


def test_overhead_is_the_percentile_of_per_pair_differences_not_of_each_side() -> None:
    # Every measured call costs 1 ms more than its baseline; two baseline calls stalled on
    # their own. p95(measured) - p95(baseline) would call that a 39 ms *gain*.
    base = [0.010] * 18 + [0.050, 0.050]
    measured = [0.011] * 20
    rows = overhead_rows(
        "x", Paired(base, measured), baseline_label="b", measures="m", p95_target_ms=2
    )
    assert [row.metric for row in rows] == ["x, paired, p50", "x, paired, p95"]
    assert rows[1].measured.startswith("1.000 ms (medians 11.000 vs 10.000 b)")
    assert rows[1].passed is True and rows[1].target == "< 2 ms"
    assert all(row.measures == "m" for row in rows)
    unpaired = (percentile(measured, 0.95) - percentile(base, 0.95)) * 1000
    assert round(unpaired) == -39

    # A stall in the measured call is overhead and shows as such; no target, no verdict.
    stalled = Paired([0.010] * 20, [0.011] * 18 + [0.060, 0.060])
    row = overhead_rows("y", stalled, baseline_label="b", measures="m", p95_target_ms=None)[1]
    assert row.measured.startswith("50.000 ms") and row.target == "-" and row.passed is None


def test_process_memory_sees_an_allocation_in_this_process() -> None:
    """Private pages count in full. A fork by any other thread of this test process (a
    subprocess started with a preexec_fn is a real fork) shares every page until the child
    execs, and USS/PSS dip for that moment: the largest of a few readings counts. (Seen
    once in a full run, on a loaded machine: USS grew 56.6 MB for the 64 MB block.)"""
    before = process_memory()
    block = bytearray(64 * MB)
    block[::4096] = b"x" * len(block[::4096])  # touch every page: resident, not reserved
    readings = []
    for _ in range(5):
        readings.append(process_memory() - before)
        if readings[-1].uss >= 60 * MB:
            break
        time.sleep(0.2)
    grown = max(readings, key=lambda memory: memory.uss)
    del block
    assert grown.rss >= 60 * MB
    assert grown.pss >= 60 * MB and grown.uss >= 60 * MB  # private pages count in full
    assert "RSS +" in grown.summary("+")


def test_process_memory_of_another_process_by_pid() -> None:
    script = "import sys, time; b = bytearray(48 << 20); b[::4096] = b'x' * len(b[::4096]); "
    script += "print('ready', flush=True); time.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        memory = process_memory(child.pid)
    finally:
        child.kill()
        child.wait()
    assert memory.rss >= 48 * MB and memory.pss >= 40 * MB and memory.uss >= 40 * MB


def test_every_row_is_numbered_and_its_note_printed_once() -> None:
    rows = [
        Row("a, p50", "1 ms", measures="Seconds of one thing."),
        Row("a, p95", "2 ms", "< 3 ms", True, measures="Seconds of one thing."),
        *describe([Row("b", "3")], "What b counts."),
        Row.failed_to_run("c", RuntimeError("boom")),
    ]
    text = render(rows)
    assert "a, p50 [1]" in text and "a, p95 [1]" in text and "b [2]" in text
    assert "c [3]" in text and "ERROR" in text
    assert text.count("Seconds of one thing.") == 1
    assert "[2] What b counts." in text
    assert describe([Row("d", "4", measures="own")], "default")[0].measures == "own"


def test_execute_overhead_rows_are_paired_and_say_what_they_measure() -> None:
    rows = execute_overhead.run(quick=True)
    assert [row.metric.rsplit(", ", 1)[-1] for row in rows] == ["p50", "p95", "p99"]
    assert all(", paired," in row.metric for row in rows)
    assert all(row.measures == execute_overhead.MEASURES for row in rows)
    assert rows[1].target == "< 1 ms"


def test_plugin_round_trip_is_timed_raw_and_through_execute_with_its_record() -> None:
    with private_workspace() as workspace:
        plugins._write(workspace.root, "bench-python", "python")
        engine = open_engine(workspace)
        try:
            engine.plugins.ensure_started("bench-python")
            plugin = engine.plugins.plugins["bench-python"]
            assert plugin.process is not None and plugin.process.pid is not None
            memory = process_memory(plugin.process.pid)
            started = time.perf_counter()
            pairs = plugins.round_trips(engine, plugin.process, "bench_python.echo", 6, warmup=2)
            assert time.perf_counter() - started < 30
            records = engine.audit.store.query(AuditFilter(action="bench_python.echo", limit=100))
        finally:
            engine.close()
    assert len(pairs.baseline) == len(pairs.measured) == 6
    # Every call through the door (warmup included) left its audit record; raw calls none.
    assert len(records) == 8
    assert all(record.outcome == "ok" for record in records)
    assert 1 * MB < memory.pss <= memory.rss < 200 * MB
