"""What the model registry adds to a call, and what listing the models costs.

Overhead: the model is llama-index's ``MockLLM`` (four tokens of "text", no work), declared
through the generic ``llama-index`` provider the way a team registers any integration. End
to end is ``engine.llm.chat`` in one event loop; model alone is the backend's ``stream()``
called in this thread with the request the registry would hand it, paired with an
end-to-end call back to back (alternating which goes first) so both see the same machine
state; the percentiles are of the per-pair differences. The difference is the registry's own
cost per call: the model lookup and checks, the retry wrapper, the thread bridge and the
audit record written to SQLite. ``llm.ask`` through ``Engine.execute`` (the command door,
which adds authorisation and the command's own audit record) is reported for information.

Listing: ``llm.list`` must load no model and import neither llama-index nor
llama-cpp-python. A fresh process runs it and reports what it imported, once with only the
built-in models and once with a llama-index model declared in ``logomesh.toml``; the
installed ``logomesh run llm.list`` is timed for both (a fresh process each time, after one
untimed run that also creates the database).
"""

from __future__ import annotations

import asyncio
import getpass
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.cli_startup import console_script
from benchmarks.llm_local import open_llm_engine
from benchmarks.table import Row
from benchmarks.timing import Paired, latency_rows, median, overhead_rows, paired, time_executions
from benchmarks.workspace import Workspace, private_workspace, trust
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Source
from logomesh.engine import Engine
from logomesh.llm.models import Caller, GenerationParams, GenerationRequest, Message
from logomesh.llm.providers import load_backend
from logomesh.llm.providers.base import LoadContext

P95_TARGET_MS = 5.0
MEASURES = (
    "Per pair: seconds of `await engine.llm.chat` of the mock model (in one event loop: model "
    "lookup, retry wrapper, thread bridge, its audit record) minus seconds of the backend's "
    "own `stream()` of the same request in this thread; back to back, alternating which goes "
    "first."
)
ASK_MEASURES = (
    "Seconds of `Engine.execute(llm.ask)` of the mock model, one after another in one event "
    "loop: the command door (validation, authorisation, its audit record) on top of the chat."
)
MOCK: dict[str, Any] = {
    "name": "mock",
    "provider": "llama-index",
    "options": {
        "class": "llama_index.core.llms.MockLLM",
        "kwargs": {"max_tokens": 4},
        "local": True,
    },
    "capabilities": ["chat", "completion", "streaming"],
}
MOCK_TOML = """
[[llm.models]]
name = "mock"
provider = "llama-index"
capabilities = ["chat", "completion", "streaming"]
options = { class = "llama_index.core.llms.MockLLM", kwargs = { max_tokens = 4 }, local = true }
"""
LIST_MEASURES = (
    "What a fresh Python process running `llm.list` through `Engine.execute` has in "
    "`sys.modules` afterwards (llama_index, llama_cpp) and which models it reports as loaded."
)
LIST_RUN_MEASURES = (
    "Wall seconds of the installed `logomesh run llm.list` console script, a fresh process "
    "each run (after one untimed run that also creates the database)."
)
PARAMS = GenerationParams(max_tokens=4)
LIST_MODELS = """
import getpass, json, sys
from pathlib import Path
from logomesh.cli.sync import run_sync
from logomesh.commands.models import CommandRequest
from logomesh.commands.values import Actor, Source
from logomesh.composition import build_engine
from logomesh.config import load_settings
engine = build_engine(load_settings(Path(sys.argv[1]), environ=json.loads(sys.argv[2])).settings)
result = run_sync(engine, CommandRequest("llm.list", Actor(Source.CLI, getpass.getuser())))
engine.close()
print(json.dumps({
    "ok": result.ok,
    "message": result.message,
    "loaded": [row["name"] for row in result.data or [] if row["state"] == "loaded"],
    "imported": [name for name in ("llama_index", "llama_cpp") if name in sys.modules],
}))
"""


def run(quick: bool) -> list[Row]:
    count, warmup = (50, 10) if quick else (300, 30)
    actor = Actor(Source.CLI, getpass.getuser())

    def ask() -> CommandRequest:
        return CommandRequest("llm.ask", actor, {"prompt": "hi", "model": "mock"})

    with private_workspace() as workspace:
        engine = open_llm_engine(workspace, {"llm": {"models": [MOCK]}})
        try:
            with asyncio.Runner() as loop:
                pairs = _compare(loop, engine, workspace, count, warmup)
                door = loop.run(time_executions(engine, ask, count, warmup))
        finally:
            engine.close()
    rows = overhead_rows(
        f"LLM registry overhead, engine.llm.chat of a mock model ({count:,} runs)",
        pairs,
        baseline_label="model alone",
        measures=MEASURES,
        p95_target_ms=P95_TARGET_MS,
    )
    rows += latency_rows(
        f"llm.ask via Engine.execute, mock model ({count:,} runs)", door, measures=ASK_MEASURES
    )
    for declared in (False, True):
        rows += _listing(declared, runs=2 if quick else 5)
    return rows


def _compare(
    loop: asyncio.Runner, engine: Engine, workspace: Workspace, count: int, warmup: int
) -> Paired:
    """The registry's call and the backend's own stream, in pairs; one event loop."""
    config = engine.llm.catalog.get("mock")
    backend = load_backend(config, LoadContext(workspace.root))
    request = GenerationRequest((Message("user", "hi"),), params=PARAMS.over(config.parameters))
    caller = Caller("bench", Source.CLI)
    expected = "".join(chunk.text for chunk in backend.stream(request, threading.Event()))
    if not expected:
        raise RuntimeError("the mock model answered nothing")

    def alone() -> float:
        started = time.perf_counter()
        text = "".join(chunk.text for chunk in backend.stream(request, threading.Event()))
        elapsed = time.perf_counter() - started
        if text != expected:
            raise RuntimeError(f"mock answered {text!r}, then {expected!r}")
        return elapsed

    async def chat() -> float:
        started = time.perf_counter()
        completion = await engine.llm.chat(
            [Message("user", "hi")], caller, model="mock", params=PARAMS
        )
        elapsed = time.perf_counter() - started
        if completion.text != expected:
            raise RuntimeError(f"mock answered {completion.text!r} through the registry")
        return elapsed

    return paired(alone, lambda: loop.run(chat()), count, warmup)


def _listing(declared: bool, runs: int) -> list[Row]:
    models = "built-in models + a llama-index model" if declared else "built-in models"
    script = console_script()
    if not script.exists():
        raise FileNotFoundError(f"{script} is not installed (pip install -e .)")
    with private_workspace() as workspace:
        if declared:
            (workspace.root / "logomesh.toml").write_text(MOCK_TOML)
            trust(workspace)  # its model declarations count only once it is trusted
        env = workspace.process_environ()
        proc = subprocess.run(
            [sys.executable, "-c", LIST_MODELS, str(workspace.root), json.dumps(workspace.environ)],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        listed = json.loads(proc.stdout.strip().splitlines()[-1])
        samples = [_time_list(script, workspace, env, declared) for _ in range(runs + 1)][1:]
    if not listed["ok"] or declared != ("mock" in listed["message"]):
        return [Row(f"llm.list, {models}", listed["message"], error=True, measures=LIST_MEASURES)]
    imported, loaded = listed["imported"], listed["loaded"]
    measured = ", ".join(
        [*(f"imported {name}" for name in imported), *(f"loaded {name}" for name in loaded)]
    )
    return [
        Row(
            f"llm.list, fresh process ({models}): llama_index/llama_cpp imported, models loaded",
            measured or "none",
            "none",
            not imported and not loaded,
            measures=LIST_MEASURES,
        ),
        Row(
            f"`logomesh run llm.list` ({models}, median of {runs})",
            f"{median(samples):.2f} s",
            measures=LIST_RUN_MEASURES,
        ),
    ]


def _time_list(script: Path, workspace: Workspace, env: dict[str, str], declared: bool) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [str(script), "run", "llm.list"],
        cwd=workspace.root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"`logomesh run llm.list` exited {done.returncode}: {tail[0]}")
    if declared != ("mock" in done.stdout):
        raise RuntimeError(
            f"`logomesh run llm.list` did not list the declared model: {done.stdout}"
        )
    return elapsed
