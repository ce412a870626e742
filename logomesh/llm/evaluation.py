"""How well a model answers developer questions: a labelled set, a score, every answer.

The built-in Gemma 270M is pre-trained, so how it is prompted decides whether it answers or
echoes the question. Choosing its prompt format is a measurement, not a taste: each question
of the set (``tests/data/llm_questions.jsonl``, one JSON object a line: ``{"question": ...,
"expect_any": [...]}``) is asked through the registry as ``llm.ask`` asks it, greedily
(temperature 0), and an answer counts when it contains one of the expected keywords. The
score is the fraction of answers that count. :func:`compare_formats` scores one llama-cpp
model under several chat formats; the benchmark and the tests call these functions, and
``python -m logomesh.llm.evaluation FILE`` prints the comparison.

A keyword must start at a word boundary (so "reappl" matches "reapplies"); a keyword of
fewer than four characters must also end at one (so "ls" does not match "else").
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from logomesh.audit import AuditEntry
from logomesh.commands.values import Source
from logomesh.errors import ConfigError
from logomesh.llm.catalog import DEFAULT_CHAT_MODEL
from logomesh.llm.models import Caller, GenerationParams, Message
from logomesh.llm.service import LLMService
from logomesh.llm.settings import LLMSettings, ProviderName

FORMATS = ("plain", "gemma", "qa")
# Short answers: a right one fits in a sentence, and a wrong one should not cost 256 tokens.
PARAMS = GenerationParams(temperature=0, max_tokens=48, seed=7)


@dataclass(frozen=True, slots=True)
class LabelledQuestion:
    question: str
    expect_any: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    answer: str
    correct: bool


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    model: str
    answers: tuple[Answer, ...]

    @property
    def correct(self) -> int:
        return sum(answer.correct for answer in self.answers)

    @property
    def score(self) -> float:
        return self.correct / len(self.answers) if self.answers else 0.0


def load_questions(path: Path) -> list[LabelledQuestion]:
    """The labelled set in ``path``; a bad line is an error naming the file and the line."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            question, expected = item["question"], item["expect_any"]
            if not isinstance(question, str) or not question.strip():
                raise ValueError("`question` must be a non-empty string")
            if not expected or not all(isinstance(k, str) and k for k in expected):
                raise ValueError("`expect_any` must be a non-empty list of strings")
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"{path}:{number}: not a labelled question ({exc}). Each line is "
                '{"question": "...", "expect_any": ["keyword", ...]}.'
            ) from exc
        questions.append(LabelledQuestion(question, tuple(expected)))
    return questions


def answers_correctly(answer: str, expect_any: Sequence[str]) -> bool:
    for keyword in expect_any:
        end = r"(?![A-Za-z0-9])" if len(keyword) < 4 else ""
        if re.search(r"(?<![A-Za-z0-9])" + re.escape(keyword) + end, answer, re.IGNORECASE):
            return True
    return False


async def evaluate(
    service: LLMService,
    questions: Sequence[LabelledQuestion],
    *,
    model: str | None = None,
    caller: Caller | None = None,
    params: GenerationParams = PARAMS,
) -> EvaluationReport:
    """Ask ``model`` (the default chat model when None) every question, one at a time."""
    who = caller or Caller("evaluation", Source.SYSTEM)
    answers = []
    name = service.catalog.get(model).name if model else None
    for item in questions:
        completion = await service.chat(
            [Message("user", item.question)], who, model=name, params=params
        )
        name = name or completion.model
        text = completion.text.strip()
        answers.append(Answer(item.question, text, answers_correctly(text, item.expect_any)))
    return EvaluationReport(name or "", tuple(answers))


def with_chat_format(service: LLMService, model: str, chat_format: str) -> str:
    """A llama-cpp model as it would be with another ``options.chat_format``; its name."""
    config = service.catalog.get(model)
    if config.provider is not ProviderName.LLAMA_CPP:
        raise ConfigError(f"{config.name} is not a llama-cpp model; only those have a chat_format.")
    variant = f"{config.name}:{chat_format}"
    if variant not in {known.name for known in service.catalog}:
        options = {**config.options, "chat_format": chat_format}
        service.catalog.register(
            config.model_copy(update={"name": variant, "aliases": (), "options": options})
        )
    return variant


async def compare_formats(
    service: LLMService,
    questions: Sequence[LabelledQuestion],
    model: str,
    formats: Sequence[str] = FORMATS,
    params: GenerationParams = PARAMS,
) -> dict[str, EvaluationReport]:
    """The report of ``model`` under each chat format, one format after the other."""
    return {
        chat_format: await evaluate(
            service, questions, model=with_chat_format(service, model, chat_format), params=params
        )
        for chat_format in formats
    }


def _main(path: str, cache_dir: str) -> None:  # pragma: no cover - run by hand to measure
    async def discard(_entry: AuditEntry) -> None:
        return None

    service = LLMService(LLMSettings(), write_audit=discard, cache_dir=Path(cache_dir))
    questions = load_questions(Path(path))
    reports = asyncio.run(compare_formats(service, questions, DEFAULT_CHAT_MODEL))
    for chat_format, report in reports.items():
        print(f"{chat_format}: {report.correct}/{len(report.answers)} ({report.score:.0%})")
        for answer in report.answers:
            print(f"  {'+' if answer.correct else '-'} {answer.question} -> {answer.answer!r}")
    service.pool.close()


if __name__ == "__main__":  # pragma: no cover
    # python -m logomesh.llm.evaluation tests/data/llm_questions.jsonl ~/.cache/logomesh/models
    _main(sys.argv[1], sys.argv[2])
