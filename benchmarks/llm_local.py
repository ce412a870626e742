"""The local model as a user gets it: Gemma 3 270M (``gemma-3-270m``, llama.cpp in-process).

Load: a fresh Python process imports llama-index and llama-cpp-python (timed apart, for
information) and then times ``load_backend`` for the built-in configuration, so nothing is
warm but the file-system cache. The GGUF file is assembled and hashed into the user's model
cache beforehand (a first use pays that once, and every later start finds it there).

First token and speed go through the registry (``engine.llm.chat``), so they are the figures
a caller sees, thread bridge included. First token: a paragraph of developer text of about
100 tokens (as the model's tokenizer counts the formatted prompt), with a different counter
in front each run so llama.cpp cannot reuse the previous run's KV cache for the prompt; the
same prompt sent again (a prefix-cache hit) is reported for information. Speed: 128 tokens
at temperature 0 from a prompt that does not stop early, counted from the first token on:
(tokens - 1) / (latency - first token).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.table import Row
from benchmarks.timing import median, percentile
from benchmarks.workspace import Workspace, private_workspace
from logomesh.composition import build_engine
from logomesh.config import load_settings
from logomesh.engine import Engine
from logomesh.llm.catalog import BUILTIN_MODELS
from logomesh.llm.models import Caller, Completion, GenerationParams, Message
from logomesh.llm.pool import ModelPool
from logomesh.llm.providers.base import LoadContext

LOAD_TARGET_S = 2.0
FIRST_TOKEN_TARGET_MS = 300.0
SPEED_TARGET = 25.0  # tokens/s
MODEL = BUILTIN_MODELS[0]
GENERATED_TOKENS = 128
LOAD_MEASURES = (
    "Wall seconds of `load_backend` of the built-in Gemma configuration in a fresh Python "
    "process (llama.cpp maps and prepares the GGUF file); its imports timed apart, before it."
)
FIRST_TOKEN_MEASURES = (
    "`Completion.first_token_ms` of `engine.llm.chat`: from the registry starting the call's "
    "attempt to the first streamed token (the prompt evaluated by llama.cpp in this process)."
)
SPEED_MEASURES = (
    "Tokens after the first over the seconds after the first token, for 128-token answers "
    "at temperature 0 through `engine.llm.chat`."
)
PARAGRAPH = (
    "I maintain a Python service that reads audit records from a SQLite database, filters "
    "them by actor and time range, and writes a weekly summary report. Every query opens a new "
    "connection, which is slow when a report covers thousands of records, and the tests mock "
    "the database, so they miss real locking problems. I want one connection per worker "
    "thread, batched reads, and tests against a temporary file. What should I change first, "
    "and why?"
)
# Prompts the model answers at length; the first that fills 128 tokens is timed.
LONG_ANSWERS = (
    "Write a long story about a lighthouse keeper.",
    "Write a long essay about the history of computers.",
    "Write a long story about a sailor who finds an island.",
)
FRESH_LOAD = """
import json, sys, time
from pathlib import Path
from logomesh.llm.catalog import BUILTIN_MODELS
from logomesh.llm.providers import load_backend
from logomesh.llm.providers.base import LoadContext
started = time.perf_counter()
import llama_index.core.llms, llama_cpp
imported = time.perf_counter()
backend = load_backend(BUILTIN_MODELS[0], LoadContext(Path(sys.argv[1])))
loaded = time.perf_counter()
print(json.dumps({"imports": imported - started, "load": loaded - imported}))
"""


def run(quick: bool) -> list[Row]:
    loads, first_tokens, cache_hits, generations = (1, 3, 2, 1) if quick else (3, 10, 5, 3)
    cache = user_model_cache()
    pool = ModelPool()
    try:
        pool.get(MODEL, LoadContext(cache))  # assembles and hashes the GGUF file if needed
        fresh = [_fresh_load(cache) for _ in range(loads)]
        with private_workspace() as workspace:
            engine = open_llm_engine(workspace, {"nl": {"model_cache_dir": str(cache)}}, pool)
            try:
                timed = asyncio.run(_time_calls(engine, first_tokens, cache_hits, generations))
            finally:
                engine.close()
    finally:
        pool.close()
    return [*_load_rows(fresh), *_call_rows(*timed)]


def user_model_cache() -> Path:
    """The real user's model cache (where ``load_settings`` puts ``nl.model_cache_dir``):
    a benchmark's private home would otherwise assemble the 250 MB GGUF file every run."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "logomesh" / "models"


def open_llm_engine(
    workspace: Workspace, flags: dict[str, Any], models: ModelPool | None = None
) -> Engine:
    """Like :func:`benchmarks.workspace.open_engine`, with settings flags and a model pool."""
    loaded = load_settings(workspace.root, flags, environ=workspace.environ)
    engine = build_engine(loaded.settings, provenance=loaded.provenance, models=models)
    engine.ensure_schema()
    return engine


def _fresh_load(cache: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", FRESH_LOAD, str(cache)],
        capture_output=True,
        text=True,
        check=True,
    )
    timings: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return timings


def _load_rows(fresh: list[dict[str, float]]) -> list[Row]:
    load = median([timing["load"] for timing in fresh])
    imports = median([timing["imports"] for timing in fresh])
    label = f"fresh process (median of {len(fresh)})"
    return [
        Row(
            f"Gemma 3 270M load_backend, {label}",
            f"{load:.2f} s",
            f"< {LOAD_TARGET_S:g} s",
            load < LOAD_TARGET_S,
            measures=LOAD_MEASURES,
        ),
        Row(
            f"Gemma 3 270M: import llama_index.core.llms + llama_cpp before it, {label}",
            f"{imports:.2f} s",
            measures=LOAD_MEASURES,
        ),
    ]


async def _time_calls(
    engine: Engine, first_tokens: int, cache_hits: int, generations: int
) -> tuple[list[Completion], list[Completion], list[Completion]]:
    short = GenerationParams(temperature=0, seed=1, max_tokens=8)
    await _chat(engine, f"Request 0: {PARAGRAPH}", short)  # warm-up: the first call's extras
    fresh = [
        await _chat(engine, f"Request {i}: {PARAGRAPH}", short) for i in range(1, first_tokens + 1)
    ]
    # The last prompt again: llama.cpp still holds its KV cache, so only sampling is left.
    again = f"Request {first_tokens}: {PARAGRAPH}"
    repeated = [await _chat(engine, again, short) for _ in range(cache_hits)]
    generated = await _generate(engine, generations)
    return fresh, repeated, generated


async def _generate(engine: Engine, runs: int) -> list[Completion]:
    """``runs`` answers that fill all 128 tokens, from the first prompt that draws one."""
    params = GenerationParams(temperature=0, seed=1, max_tokens=GENERATED_TOKENS)
    for prompt in LONG_ANSWERS:
        full = []
        for _ in range(runs):
            completion = await _chat(engine, prompt, params)
            if completion.usage.tokens_out < GENERATED_TOKENS:
                break  # it stops early: try the next prompt
            full.append(completion)
            if len(full) == runs:
                return full
    raise RuntimeError(f"no prompt drew {GENERATED_TOKENS} tokens from {MODEL.name} {runs} times")


async def _chat(engine: Engine, prompt: str, params: GenerationParams) -> Completion:
    completion = await engine.llm.chat(
        [Message("user", prompt)], Caller("bench"), model=MODEL.name, params=params
    )
    if completion.first_token_ms is None:
        raise RuntimeError(f"{MODEL.name} answered nothing to {prompt[:40]!r}")
    return completion


def _call_rows(
    fresh: list[Completion], repeated: list[Completion], generated: list[Completion]
) -> list[Row]:
    tokens_in = round(median([c.usage.tokens_in for c in fresh]))
    first = percentile([c.first_token_ms or 0.0 for c in fresh], 0.5)
    cached = percentile([c.first_token_ms or 0.0 for c in repeated], 0.5)
    speeds = [_tokens_per_second(c) for c in generated]
    speed = median(speeds)
    metric = f"Gemma 3 270M first token, {tokens_in}-token prompt"
    return [
        Row(
            f"{metric} ({len(fresh)} runs), p50",
            f"{first:.0f} ms",
            f"< {FIRST_TOKEN_TARGET_MS:g} ms",
            first < FIRST_TOKEN_TARGET_MS,
            measures=FIRST_TOKEN_MEASURES,
        ),
        Row(
            f"{metric}, same prompt again (prefix cache hit), p50",
            f"{cached:.0f} ms",
            measures=FIRST_TOKEN_MEASURES,
        ),
        Row(
            f"Gemma 3 270M generation, {GENERATED_TOKENS} tokens at temperature 0, "
            f"{os.cpu_count()} CPUs (median of {len(speeds)})",
            f"{speed:.1f} tokens/s",
            f">= {SPEED_TARGET:g} tokens/s",
            speed >= SPEED_TARGET,
            measures=SPEED_MEASURES,
        ),
    ]


def _tokens_per_second(completion: Completion) -> float:
    """Tokens after the first over the time after the first. llama.cpp's sampling counter
    reports one token more than it returns when ``max_tokens`` cuts the answer, hence min."""
    tokens = min(completion.usage.tokens_out, GENERATED_TOKENS)
    generating_s = (completion.latency_ms - (completion.first_token_ms or 0.0)) / 1000
    return (tokens - 1) / generating_s
