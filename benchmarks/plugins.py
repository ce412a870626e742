"""The plugin host: call round trip, cold start, idle memory, and twenty plugins at once.

Targets (issue 5): round trip host -> plugin -> host with a small payload p50 < 1 ms and
p99 < 3 ms for Python and Node plugins built on the helpers; cold start (spawn to active)
< 150 ms; an idle plugin's RSS < 30 MB; with 20 plugins active, the host's own command
latency rises by no more than 10%.

Round trips are timed at the host's plugin process (``PluginProcess.call_tool``), the part
the host adds is the engine's door, measured separately as its own command latency.
"""

from __future__ import annotations

import asyncio
import getpass
import shutil
import textwrap
import time
from pathlib import Path

from benchmarks.table import Row
from benchmarks.timing import median, percentile, time_executions
from benchmarks.workspace import open_engine, private_workspace

PYTHON_PLUGIN = """
    from logomesh_plugin import Plugin
    plugin = Plugin("{name}", version="1")
    SCHEMA = {{"type": "object", "properties": {{"n": {{"type": "integer"}}}}}}
    @plugin.tool("{command}", schema=SCHEMA)
    def echo(args, ctx):
        return {{"n": args.get("n", 0)}}
    plugin.run()
"""
NODE_PLUGIN = """
    const {{ Plugin }} = require("logomesh-plugin");
    const plugin = new Plugin("{name}", {{ version: "1" }});
    const schema = {{ type: "object", properties: {{ n: {{ type: "integer" }} }} }};
    plugin.tool("{command}", {{ schema }}, (args) => ({{ n: args.n || 0 }}));
    plugin.run();
"""
MANIFEST = """
name = "{name}"
version = "1"
runtime = "{runtime}"
entry = "{entry}"

[[contributes.commands]]
name = "{command}"
summary = "benchmark echo"
"""


def run(quick: bool) -> list[Row]:
    runtimes = ["python"] + (["node"] if shutil.which("node") else [])
    calls = 300 if quick else 2000
    rows: list[Row] = []
    with private_workspace() as ws:
        for runtime in runtimes:
            _write(ws.root, f"bench-{runtime}", runtime)
        engine = open_engine(ws)
        try:
            for runtime in runtimes:
                rows += _one_runtime(engine, f"bench-{runtime}", runtime, calls)
        finally:
            engine.close()
    rows += _twenty_plugins(quick)
    if "node" not in runtimes:
        rows.append(Row("Node plugins", "skipped: node is not on PATH"))
    return rows


def _write(root: Path, name: str, runtime: str) -> None:
    folder = root / "plugins" / name
    folder.mkdir(parents=True)
    entry = "main.py" if runtime == "python" else "main.js"
    script = PYTHON_PLUGIN if runtime == "python" else NODE_PLUGIN
    command = f"{name.replace('-', '_')}.echo"
    (folder / entry).write_text(
        textwrap.dedent(script.format(name=name, command=command)), encoding="utf-8"
    )
    (folder / "logomesh-plugin.toml").write_text(
        MANIFEST.format(name=name, runtime=runtime, entry=entry, command=command),
        encoding="utf-8",
    )


def _one_runtime(engine: object, name: str, runtime: str, calls: int) -> list[Row]:
    from logomesh.engine import Engine

    assert isinstance(engine, Engine)
    host = engine.plugins
    starts = []
    for _ in range(5):
        host.stop(name)
        started = time.perf_counter()
        host.ensure_started(name)
        starts.append(time.perf_counter() - started)
    plugin = host.plugins[name]
    process = plugin.process
    assert process is not None and process.pid is not None
    time.sleep(0.3)  # let it settle: idle, after the handshake
    rss_mb, pss_mb = _rss_mb(process.pid), _pss_mb(process.pid)
    command = plugin.commands[0]

    async def round_trips() -> list[float]:
        samples = []
        for i in range(calls + 50):
            began = time.perf_counter()
            await process.call_tool(command, {"n": i}, timeout_s=10)
            if i >= 50:
                samples.append(time.perf_counter() - began)
        return samples

    samples = asyncio.run(round_trips())
    p50, p99 = percentile(samples, 0.5) * 1000, percentile(samples, 0.99) * 1000
    cold = median(starts) * 1000
    label = "Python" if runtime == "python" else "Node"
    return [
        Row(f"{label} plugin call round trip ({calls:,} calls), p50", f"{p50:.3f} ms",
            "< 1 ms", p50 < 1),
        Row(f"{label} plugin call round trip, p99", f"{p99:.3f} ms", "< 3 ms", p99 < 3),
        Row(f"{label} plugin cold start, spawn to active (median of 5)", f"{cold:.0f} ms",
            "< 150 ms", cold < 150),
        Row(f"{label} plugin idle RSS", f"{rss_mb:.1f} MB", "< 30 MB", rss_mb < 30),
        # RSS counts the runtime's binary pages that every plugin of the runtime shares; PSS
        # splits them among the processes mapping them, so it is what one more plugin costs.
        Row(f"{label} plugin idle PSS (its share of shared pages)", f"{pss_mb:.1f} MB"),
    ]  # fmt: skip


def _twenty_plugins(quick: bool) -> list[Row]:
    """The host's own command latency, in one engine, before and while 20 plugins run.

    One engine and one database for both figures, so only the plugins differ (a second
    engine would also differ in its database's size and its process's warmth).
    """
    from logomesh.commands.models import CommandRequest
    from logomesh.commands.values import Actor, Source
    from logomesh.engine import Engine

    count = 200 if quick else 1000
    actor = Actor(Source.CLI, getpass.getuser())  # the workspace owner

    def whoami_median(engine: Engine) -> float:
        request = lambda: CommandRequest("whoami", actor)  # noqa: E731
        return median(asyncio.run(time_executions(engine, request, count, 50))) * 1000

    with private_workspace() as ws:
        for index in range(20):
            runtime = "node" if index % 2 and shutil.which("node") else "python"
            _write(ws.root, f"many-{index:02d}", runtime)
        engine = open_engine(ws)
        try:
            base = whoami_median(engine)
            engine.plugins.start_all()
            active = sum(1 for p in engine.plugins.plugins.values() if p.state == "active")
            loaded = whoami_median(engine)
        finally:
            engine.close()
    rise = (loaded / base - 1) * 100
    return [
        Row(f"host command latency (whoami, median of {count}), plugins not started",
            f"{base:.3f} ms"),
        Row(f"host command latency with {active} plugins active", f"{loaded:.3f} ms"),
        Row("host command latency rise with 20 plugins", f"{rise:+.1f}%", "<= +10%",
            rise <= 10 and active == 20),
    ]  # fmt: skip


def _pss_mb(pid: int) -> float:
    import psutil

    return float(psutil.Process(pid).memory_full_info().pss) / (1024 * 1024)


def _rss_mb(pid: int) -> float:
    import psutil

    return float(psutil.Process(pid).memory_info().rss) / (1024 * 1024)
