"""The baseline Analyst: typed answers from the real local models, every call audited."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from logomesh.audit.query import AuditFilter
from logomesh.engine import Engine
from logomesh.errors import InvalidArgumentsError
from logomesh.llm.cognition import Analyst, BaselineAnalyst
from logomesh.llm.models import Caller


@pytest.fixture
def analyst(llm_engine: Callable[..., Engine], caller: Caller) -> BaselineAnalyst:
    return BaselineAnalyst(llm_engine().llm, caller)


def test_the_baseline_satisfies_the_protocol(analyst: BaselineAnalyst) -> None:
    conforming: Analyst = analyst
    assert conforming is analyst


def test_classify_picks_the_nearest_label(analyst: BaselineAnalyst) -> None:
    labels = ["bug report", "feature request", "question about billing"]
    result = asyncio.run(
        analyst.classify("The app crashes with a null pointer when I click save.", labels)
    )
    assert result.label == "bug report"
    assert set(result.scores) == set(labels)
    assert result.method.startswith("baseline")


def test_classify_needs_two_labels(analyst: BaselineAnalyst) -> None:
    with pytest.raises(InvalidArgumentsError, match="two distinct labels"):
        asyncio.run(analyst.classify("text", ["only", "only"]))


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("The deployment to production succeeded.",
         "The deployment to production did not succeed.", True),
        ("The tests pass on main.", "The tests pass on the main branch.", False),
        ("The cache is stored in Redis.", "Bananas are yellow.", None),
    ],
)  # fmt: skip
def test_detect_contradiction_baseline(
    analyst: BaselineAnalyst, first: str, second: str, expected: bool | None
) -> None:
    verdict = asyncio.run(analyst.detect_contradiction(first, second))
    assert verdict.contradicts is expected
    assert verdict.method == "baseline:topic-and-negation"


def test_summarise_is_bounded_and_refuses_empty_text(analyst: BaselineAnalyst) -> None:
    text = (
        "The nightly build failed because the integration tests timed out after the "
        "database container took four minutes to start. Restarting the runner fixed it."
    )
    summary = asyncio.run(analyst.summarise(text, max_words=12))
    assert summary.text and len(summary.text.split()) <= 12
    assert summary.model == "gemma-3-270m"
    with pytest.raises(InvalidArgumentsError):
        asyncio.run(analyst.summarise("   "))


def test_every_analyst_call_is_in_the_audit_trail(
    llm_engine: Callable[..., Engine], caller: Caller
) -> None:
    engine = llm_engine()
    analyst = BaselineAnalyst(engine.llm, caller)
    asyncio.run(analyst.classify("disk full on the build agent", ["infrastructure", "ui"]))
    asyncio.run(analyst.summarise("A short note about a flaky test.", max_words=8))
    records = engine.audit.store.query(AuditFilter(correlation_id=caller.correlation_id))
    assert sorted(record.action for record in records) == ["llm.call", "llm.embed"]
