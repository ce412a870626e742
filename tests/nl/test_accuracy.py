"""The interpreter against the labelled requests, on the set it was tuned on and on one it
was not.

``tests/data/nl_requests.jsonl`` (the tuned split) is what the threshold, the name bonus
and the command examples were adjusted against, so its accuracy flatters the interpreter.
``tests/data/nl_requests_heldout.jsonl`` was written afterwards, phrased independently of
the examples, and has not been tuned on: it says how the interpreter does on requests
nobody has seen. Its floors are what it measured when it was added (top-1 78.1 % of 73,
no-match 100 % of 12), less a small margin, and sit below the 90 % target of the tuned set;
they are not a target met. Tuning on the held-out set would make it a tuned set: if you
change examples, the threshold or the bonus, judge them on the tuned set and read the
held-out figure as it comes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from logomesh.engine import Engine
from logomesh.nl.evaluation import evaluate, load_cases, near_duplicates
from tests.nl.conftest import DATA, HELDOUT

#: (file, top-1 floor, no-match floor)
FLOORS = [(DATA, 0.90, 0.90), (HELDOUT, 0.75, 0.90)]


def test_labelled_sets_are_large_and_varied() -> None:
    """Each split: many matching requests over many commands, plus requests that match
    nothing."""
    for path, matching_at_least, commands_at_least, no_match_at_least in (
        (DATA, 200, 25, 30),
        (HELDOUT, 60, 25, 10),
    ):
        cases = load_cases(path)
        matching = [c for c in cases if c.command]
        assert len(matching) >= matching_at_least, path.name
        assert len({c.command for c in matching}) >= commands_at_least, path.name
        assert sum(1 for c in cases if c.command is None) >= no_match_at_least, path.name


def test_no_held_out_request_is_a_near_duplicate_of_a_tuned_one() -> None:
    """A held-out request close to a tuned one would have been tuned on, in effect."""
    tuned = [(case.command or "no match", case.text) for case in load_cases(DATA)]
    found = near_duplicates(load_cases(HELDOUT), tuned)
    assert found == [], "\n".join(map(str, found))


@pytest.mark.parametrize(("path", "top1_floor", "no_match_floor"), FLOORS, ids=["tuned", "heldout"])
def test_top1_and_no_match_accuracy_meet_the_floors(
    nl_engine: Engine, path: Path, top1_floor: float, no_match_floor: float
) -> None:
    """Tuned: top-1 >= 90% and 'no match' >= 90%. Held-out: at least what it measured."""
    report = evaluate(nl_engine.interpreter, load_cases(path))
    print(f"\n{path.name}: {report.summary()}")
    for miss in report.misses:
        print("  miss:", miss)
    assert report.top1_accuracy >= top1_floor, report.summary()
    assert report.no_match_accuracy >= no_match_floor, report.summary()
