"""The interpreter against the labelled requests in tests/data/nl_requests.jsonl."""

from __future__ import annotations

from logomesh.engine import Engine
from logomesh.nl.evaluation import evaluate, load_cases
from tests.nl.conftest import DATA


def test_labelled_set_is_large_and_varied() -> None:
    """At least 200 matching requests over many commands, plus requests that match nothing."""
    cases = load_cases(DATA)
    matching = [c for c in cases if c.command]
    assert len(matching) >= 200
    assert len({c.command for c in matching}) >= 25
    assert sum(1 for c in cases if c.command is None) >= 30


def test_top1_and_no_match_accuracy_meet_the_targets(nl_engine: Engine) -> None:
    """Top-1 >= 90% on matching requests; 'no match' for >= 90% of the others."""
    report = evaluate(nl_engine.interpreter, load_cases(DATA))
    print("\n" + report.summary())
    for miss in report.misses:
        print("  miss:", miss)
    assert report.top1_accuracy >= 0.90, report.summary()
    assert report.no_match_accuracy >= 0.90, report.summary()
