"""A crashed plugin's message keeps the cause from its stderr (issue 10, item 9): the first
lines, the first error line and the last lines, with what was cut marked."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from logomesh.engine import Engine
from logomesh.plugins.stderr import StderrCapture
from tests.conftest import requires
from tests.plugins.conftest import run_command


def test_the_excerpt_keeps_head_first_error_and_tail_within_its_size() -> None:
    capture = StderrCapture()
    for n in range(200):
        capture.add(f"log line {n}")
        if n == 100:
            capture.add("RangeError: Array buffer allocation failed")
        capture.add("")  # blank lines are not kept
    excerpt = capture.excerpt(400)
    assert len(excerpt) <= 400 + 60  # the markers are on top of the budget
    lines = excerpt.splitlines()
    assert lines[0] == "log line 0" and lines[-1] == "log line 199"
    assert "RangeError: Array buffer allocation failed" in lines
    cuts = [line for line in lines if line.startswith("[… ") and line.endswith(" cut …]")]
    assert len(cuts) == 2  # between the head and the error, and between the error and the tail
    kept = [line for line in lines if line.startswith("log line")]
    cut = sum(int(line.split()[1]) for line in cuts)
    assert len(kept) + 1 + cut == 201  # every line is either shown or counted as cut


def test_a_short_output_is_shown_whole_and_a_long_line_is_clipped() -> None:
    capture = StderrCapture()
    for line in ("starting", "Traceback (most recent call last):", "ValueError: bad"):
        capture.add(line)
    assert capture.excerpt(400) == "starting\nTraceback (most recent call last):\nValueError: bad"
    capture.add("x" * 10_000)
    clipped = capture.excerpt(400)
    assert clipped.splitlines()[-1].strip("x") == "…" and len(clipped) <= 400
    assert capture.excerpt().count("\n") == 3


@requires(shutil.which("node") is not None, "node is not installed")
def test_an_uncaught_range_error_after_much_logging_is_in_the_crash_message(
    add_plugin: Callable[..., Path], plugin_engine: Callable[..., Engine]
) -> None:
    script = """
        const { Plugin } = require("logomesh-plugin");
        const plugin = new Plugin("buffers", { version: "1" });
        for (let i = 0; i < 60; i++) console.error(`buffers: warming up, step ${i}`);
        plugin.tool("buffers.grab", {}, () => {
          // Outside the handler, so nothing catches it: the process dies of it.
          setImmediate(() => { globalThis.kept = new ArrayBuffer(1024 * 1024 * 1024); });
          return new Promise(() => {});
        });
        plugin.run();
    """
    add_plugin("buffers", script, commands=("buffers.grab",), runtime="node", entry="main.js",
               extra="[limits]\nmemory_mb = 128\n")  # fmt: skip
    engine = plugin_engine(max_restarts=0)
    result = run_command(engine, "buffers.grab")
    assert result.error is not None and result.error.code == "plugin.crashed"
    assert "RangeError: Array buffer allocation failed" in result.message
    assert "buffers: warming up, step 0" in result.message
    assert "lines cut" in result.message
