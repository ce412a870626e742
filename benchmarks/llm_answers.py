"""How often the built-in Gemma 3 270M answers a developer question right, per prompt format.

Every question of ``tests/data/llm_questions.jsonl`` is asked through the registry at
temperature 0 (:mod:`logomesh.llm.evaluation`), once per chat format: ``plain`` (the
``user:``/``assistant:`` lines every llama-cpp model got before), ``gemma`` (the model's own
turn markers) and ``qa`` (few-shot ``Q:``/``A:``, what the built-in model uses now). An
answer counts when it holds one of the question's expected keywords. ``--quick`` asks the
first five questions only.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from benchmarks.table import Row
from logomesh.audit import AuditEntry
from logomesh.config import user_cache_dir
from logomesh.llm.catalog import DEFAULT_CHAT_MODEL
from logomesh.llm.evaluation import compare_formats, load_questions
from logomesh.llm.service import LLMService
from logomesh.llm.settings import LLMSettings

QUESTIONS = Path(__file__).resolve().parent.parent / "tests" / "data" / "llm_questions.jsonl"
CHOSEN = "qa"
MEASURES = (
    "Right answers of the built-in model (gemma-3-270m, llama.cpp in-process) to the labelled "
    "developer questions in tests/data/llm_questions.jsonl, temperature 0, at most 48 tokens, "
    "one prompt format per row; `qa` is the format `llm ask` uses for it now, `plain` the one "
    "it used before."
)


def run(quick: bool) -> list[Row]:
    import os

    questions = load_questions(QUESTIONS)[: 5 if quick else None]

    async def discard(_entry: AuditEntry) -> None:
        return None

    service = LLMService(
        LLMSettings(), write_audit=discard, cache_dir=user_cache_dir(dict(os.environ)) / "models"
    )
    try:
        reports = asyncio.run(compare_formats(service, questions, DEFAULT_CHAT_MODEL))
    finally:
        service.pool.close()
    rows = []
    for chat_format, report in reports.items():
        name = f"built-in model, `{chat_format}` format" + (
            " (in use)" if chat_format == CHOSEN else ""
        )
        figure = f"{report.correct}/{len(report.answers)} ({report.score:.0%})"
        rows.append(Row(name, figure, measures=MEASURES))
    return rows
