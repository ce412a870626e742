"""The labelled developer questions and their score: the measure behind Gemma's prompt."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from logomesh.engine import Engine
from logomesh.errors import ConfigError
from logomesh.llm.evaluation import (
    answers_correctly,
    compare_formats,
    evaluate,
    load_questions,
    with_chat_format,
)
from logomesh.llm.models import GenerationParams
from tests.llm.fake_openai import FakeOpenAIServer

QUESTIONS = Path(__file__).parents[1] / "data" / "llm_questions.jsonl"


def test_the_labelled_set_is_a_fair_test() -> None:
    questions = load_questions(QUESTIONS)
    assert 20 <= len(questions) <= 30
    assert len({q.question for q in questions}) == len(questions)
    # Echoing the question (what the pre-trained model does most) must never score.
    echoes = [q.question for q in questions if answers_correctly(q.question, q.expect_any)]
    assert echoes == []


@pytest.mark.parametrize(
    ("answer", "keywords", "correct"),
    [("It reapplies your commits.", ["reappl"], True), ("or else", ["ls"], False),
     ("Run ls -la.", ["ls"], True), ("Cython", ["C"], False), ("Mostly C.", ["C"], True),
     ("POST /items", ["post"], True), ("", ["pip"], False)],
)  # fmt: skip
def test_keywords_start_at_a_word_and_short_ones_end_at_one(
    answer: str, keywords: list[str], correct: bool
) -> None:
    assert answers_correctly(answer, keywords) is correct


@pytest.mark.parametrize(
    ("line", "says"),
    [('{"question": "x"}', "'expect_any'"), ("not json", "Expecting value"),
     ('{"question": " ", "expect_any": ["a"]}', "`question` must be a non-empty string"),
     ('{"question": "q", "expect_any": []}', "`expect_any` must be a non-empty list")],
)  # fmt: skip
def test_a_bad_line_is_an_error_naming_the_file_and_line(
    tmp_path: Path, line: str, says: str
) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text('{"question": "q", "expect_any": ["a"]}\n\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_questions(path)
    assert f"{path}:3: not a labelled question" in caught.value.user_message
    assert says in caught.value.user_message


def test_a_served_model_is_scored_on_what_it_answers(llm_engine: Callable[..., Engine]) -> None:
    questions = [
        q for q in load_questions(QUESTIONS) if "rebase" in q.question or "JSON" in q.question
    ]
    with FakeOpenAIServer(reply="It replays your commits on top of another base.") as server:
        options = {"base_url": server.base_url, "model": "m", "api_key": "x"}
        engine = llm_engine(models=[{"name": "served", "provider": "openai-compatible",
                                     "options": options}])  # fmt: skip
        report = asyncio.run(evaluate(engine.llm, questions, model="served"))
        with pytest.raises(ConfigError, match="served is not a llama-cpp model"):
            with_chat_format(engine.llm, "served", "qa")
        assert all(request["temperature"] == 0 for request in server.requests)
    assert report.model == "served"
    assert [(a.question, a.correct) for a in report.answers] == [
        ("What does git rebase do?", True), ("What does JSON stand for?", False)
    ]  # fmt: skip
    assert report.correct == 1 and report.score == 0.5


@pytest.mark.slow
def test_the_built_in_models_qa_format_answers_more_than_plain_lines(
    llm_engine: Callable[..., Engine],
) -> None:
    # Questions where the formats differ; the whole set is measured by
    # `python -m logomesh.llm.evaluation` (see docs/llm.md for the figures).
    wanted = ("Linux kernel", "SQL stand", "lists the files", "404", "create a new resource")
    questions = [q for q in load_questions(QUESTIONS) if any(w in q.question for w in wanted)]
    engine = llm_engine()
    short = GenerationParams(temperature=0, max_tokens=24, seed=7)
    reports = asyncio.run(
        compare_formats(engine.llm, questions, "gemma", ("plain", "qa"), params=short)
    )
    assert reports["qa"].correct > reports["plain"].correct, {
        name: [(a.answer, a.correct) for a in report.answers] for name, report in reports.items()
    }
    # The built-in model is configured with the format that won.
    assert engine.llm.catalog.get("gemma").options["chat_format"] == "qa"
